"""Lambda handler: enriched-events (Kinesis) → the decide use case (marketing.app.decide). Wiring only."""
from marketing import resources
from marketing.app import edge
from marketing.app.lambda_handler import batch_handler
from marketing.app.wiring import build_decide
from marketing.settings import configured

handler = batch_handler(configured(resources.DECIDE, build_decide), edge.enriched_events)
