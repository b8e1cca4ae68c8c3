"""Lambda handler: state-machine task evaluate-campaign — the campaign's rows → lift and report in S3 (marketing.app). Wiring only."""
from marketing.app.lambda_handler import task_handler
from marketing.app.lifecycle_wiring import build_evaluate

handler = task_handler(build_evaluate)
