"""Lambda handler: state-machine task activate-campaign — the approved campaign goes live; when to evaluate (marketing.app). Wiring only."""
from marketing import resources
from marketing.app.lambda_handler import task_handler
from marketing.app.lifecycle_wiring import build_activate
from marketing.settings import configured

handler = task_handler(configured(resources.ACTIVATE_CAMPAIGN, build_activate))
