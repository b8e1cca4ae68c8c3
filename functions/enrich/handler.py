"""Lambda handler: customer-events (Kinesis) → the enrich use case. Parses, calls, reports; no business rule here."""
from aws_lambda_powertools import Logger, Metrics, Tracer

from marketing.app.masking import MaskingFormatter
from marketing.app.telemetry import report
from marketing.app.wiring import build_enrich, register_lambda_context
from marketing.settings import Settings

logger = Logger(logger_formatter=MaskingFormatter())
tracer = Tracer()
metrics = Metrics()
enrich = build_enrich(Settings.from_env())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event, context):
    register_lambda_context(context)
    outcome = enrich.run(event["Records"])
    report(metrics, outcome)
    return outcome.response()
