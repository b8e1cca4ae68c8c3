"""Lambda handler: delivery (SQS) → the deliver use case (marketing.app.deliver). Wiring only."""
from marketing.app import edge
from marketing.app.lambda_handler import batch_handler
from marketing.app.wiring import build_deliver

handler = batch_handler(build_deliver, edge.offers)
