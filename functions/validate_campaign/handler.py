"""Lambda handler: state-machine task validate-campaign — the execution input → the stored definition (CampaignInvalid lists every error) (marketing.app). Wiring only."""
from marketing import resources
from marketing.app.lambda_handler import task_handler
from marketing.app.lifecycle_wiring import build_validate
from marketing.settings import configured

handler = task_handler(configured(resources.VALIDATE_CAMPAIGN, build_validate))
