"""Lambda handler: customer-events (Kinesis) → the enrich use case (marketing.app.enrich). Wiring only."""
from marketing import resources
from marketing.app import edge
from marketing.app.lambda_handler import batch_handler
from marketing.app.wiring import build_enrich
from marketing.settings import configured

handler = batch_handler(configured(resources.ENRICH, build_enrich), edge.customer_events)
