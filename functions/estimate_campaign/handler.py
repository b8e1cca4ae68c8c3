"""Lambda handler: state-machine task estimate-campaign — the backtest the approver reads (marketing.app). Wiring only."""
from marketing import resources
from marketing.app.lambda_handler import task_handler
from marketing.app.lifecycle_wiring import build_estimate
from marketing.settings import configured

handler = task_handler(configured(resources.ESTIMATE_CAMPAIGN, build_estimate))
