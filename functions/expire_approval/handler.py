"""Lambda handler: state-machine task expire-approval — no decision in time → rejected (marketing.app). Wiring only."""
from marketing import resources
from marketing.app.lambda_handler import task_handler
from marketing.app.lifecycle_wiring import build_expire
from marketing.settings import configured

handler = task_handler(configured(resources.EXPIRE_APPROVAL, build_expire))
