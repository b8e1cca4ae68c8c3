"""Lambda handler: delivery (SQS) → the deliver use case (marketing.app.deliver). Wiring only."""
from marketing import resources
from marketing.app import edge
from marketing.app.lambda_handler import batch_handler
from marketing.app.wiring import build_deliver
from marketing.settings import configured

handler = batch_handler(configured(resources.DELIVER, build_deliver), edge.offers)
