"""Lambda handler: state-machine task estimate-campaign — the backtest the approver reads (marketing.app). Wiring only."""
from marketing.app.lambda_handler import task_handler
from marketing.app.lifecycle_wiring import build_estimate

handler = task_handler(build_estimate)
