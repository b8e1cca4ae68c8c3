"""Lambda handler: the approval link API (API Gateway) → approve/reject (marketing.app.approval_link). Wiring only."""
from marketing.app.approval_link import build_api
from marketing.app.lambda_handler import api_handler
from marketing.app.lifecycle_wiring import build_approval_decisions

handler = api_handler(lambda settings: build_api(build_approval_decisions(settings)))
