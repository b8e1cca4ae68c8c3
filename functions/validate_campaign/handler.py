"""Lambda handler: state-machine task validate-campaign — the execution input → the stored definition (CampaignInvalid lists every error) (marketing.app). Wiring only."""
from marketing.app.lambda_handler import task_handler
from marketing.app.lifecycle_wiring import build_validate

handler = task_handler(build_validate)
