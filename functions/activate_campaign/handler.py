"""Lambda handler: state-machine task activate-campaign — the approved campaign goes live; when to evaluate (marketing.app). Wiring only."""
from marketing.app.lambda_handler import task_handler
from marketing.app.lifecycle_wiring import build_activate

handler = task_handler(build_activate)
