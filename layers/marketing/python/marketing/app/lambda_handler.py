"""The two shapes of handler: a batch handler (Powertools logger masking contact data, tracer and
metrics around one use case built at cold start; returns the partial-batch response) and an API
handler (logger and tracer around a Powertools event-handler resolver built at cold start).

A function's handler.py names its use case and nothing else; no business rule lives here.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol

from aws_lambda_powertools import Logger, Metrics, Tracer

from marketing.app.batch import BatchOutcome
from marketing.app.masking import MaskingFormatter
from marketing.app.telemetry import report
from marketing.app.wiring import register_lambda_context
from marketing.settings import Settings


class BatchUseCase(Protocol):
    def run(self, records: list[dict[str, Any]]) -> BatchOutcome: ...


def batch_handler(build: Callable[[Settings], BatchUseCase]) -> Callable[[dict, Any], dict]:
    logger = Logger(logger_formatter=MaskingFormatter())
    tracer = Tracer()
    metrics = Metrics()
    use_case = build(Settings.from_env())  # once per cold start

    @logger.inject_lambda_context
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    def handler(event: dict, context: Any) -> dict:
        register_lambda_context(context)
        outcome = use_case.run(event["Records"])
        report(metrics, outcome)
        return outcome.response()

    return handler


class Resolver(Protocol):
    def resolve(self, event: dict, context: Any) -> dict: ...


def api_handler(build: Callable[[Settings], Resolver]) -> Callable[[dict, Any], dict]:
    logger = Logger(logger_formatter=MaskingFormatter())
    tracer = Tracer()
    api = build(Settings.from_env())  # once per cold start

    @logger.inject_lambda_context
    @tracer.capture_lambda_handler
    def handler(event: dict, context: Any) -> dict:
        return api.resolve(event, context)

    return handler
