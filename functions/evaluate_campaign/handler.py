"""Lambda handler: state-machine task evaluate-campaign — the campaign's rows → lift and report in S3 (marketing.app). Wiring only."""
from marketing import resources
from marketing.app.lambda_handler import task_handler
from marketing.app.lifecycle_wiring import build_evaluate
from marketing.settings import configured

handler = task_handler(configured(resources.EVALUATE_CAMPAIGN, build_evaluate))
