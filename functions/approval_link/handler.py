"""Lambda handler: the approval link API (API Gateway) → approve/reject (marketing.app.approval_link). Wiring only."""
from marketing.app.approval_link import api_handler
from marketing.app.workflow_wiring import build_decisions

handler = api_handler(build_decisions)
