"""Lambda handler: the approval link API (API Gateway) → approve/reject (marketing.app.approval_link). Wiring only."""
from marketing import resources
from marketing.app.approval_link import build_api
from marketing.app.lambda_handler import api_handler
from marketing.app.lifecycle_wiring import build_approval_decisions
from marketing.settings import configured

handler = api_handler(configured(resources.APPROVAL_LINK, lambda settings: build_api(build_approval_decisions(settings))))
