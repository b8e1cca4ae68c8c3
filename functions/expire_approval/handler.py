"""Lambda handler: state-machine task expire-approval — no decision in time → rejected (marketing.app). Wiring only."""
from marketing.app.lambda_handler import task_handler
from marketing.app.lifecycle_wiring import build_expire

handler = task_handler(build_expire)
