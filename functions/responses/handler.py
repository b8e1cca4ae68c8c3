"""Lambda handler: inbound-sms (SNS, two-way SMS) → the replies use case (marketing.app.sms_replies). Wiring only."""
from marketing import resources
from marketing.app import edge
from marketing.app.lambda_handler import batch_handler
from marketing.app.wiring import build_responses
from marketing.settings import configured

handler = batch_handler(configured(resources.RESPONDER, build_responses), edge.inbound_sms)
