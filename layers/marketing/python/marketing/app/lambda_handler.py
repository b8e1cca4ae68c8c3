"""The shapes of handler: a batch handler (Powertools logger masking contact data, tracer and
metrics around one use case built at cold start; returns the partial-batch response), an API
handler and a state-machine task handler (logger and tracer around what was built at cold start).

A function's handler.py names its use case and nothing else; no business rule lives here.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol

from aws_lambda_powertools import Logger, Metrics, Tracer

from marketing.app.edge import Trigger
from marketing.app.masking import MaskingFormatter, mask_all_loggers, masked_errors
from marketing.app.telemetry import report
from marketing.app.clients import register_lambda_context
from marketing.settings import Settings


def _masked_logger() -> Logger:
    """The function's logger; every other logger of the process masks through the same formatter."""
    formatter = MaskingFormatter()
    logger = Logger(logger_formatter=formatter)
    mask_all_loggers(formatter, logger.log_level)
    return logger


def batch_handler(build: Callable[[Settings], Any], trigger: Trigger) -> Callable[[dict, Any], dict]:
    """`trigger` (app/edge.py) decodes the event's records for the use case `build` returns."""
    logger = _masked_logger()
    tracer = Tracer()
    metrics = Metrics()
    use_case = build(Settings.from_env())  # once per cold start

    @masked_errors(logger)
    @logger.inject_lambda_context
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    def handler(event: dict, context: Any) -> dict:
        register_lambda_context(context)
        outcome = trigger(use_case, event["Records"])
        report(metrics, outcome)
        return outcome.response()

    return handler



class Resolver(Protocol):
    def resolve(self, event: dict, context: Any) -> dict: ...


def api_handler(build: Callable[[Settings], Resolver]) -> Callable[[dict, Any], dict]:
    """An API Gateway handler: a Powertools event-handler resolver."""
    return _traced(build, lambda api, event, context: api.resolve(event, context))


def task_handler(build: Callable[[Settings], Callable[[dict[str, Any]], Any]]) -> Callable[[dict, Any], Any]:
    """A state-machine task: the step's exception is the task's error (its class name is what the
    state machine's Catch matches, e.g. CampaignInvalid)."""
    return _traced(build, lambda step, event, _context: step(event))


def _traced(build: Callable[[Settings], Any], call: Callable[[Any, dict, Any], Any]) -> Callable[[dict, Any], Any]:
    logger = _masked_logger()
    tracer = Tracer()
    target = build(Settings.from_env())  # once per cold start

    @masked_errors(logger)
    @logger.inject_lambda_context
    @tracer.capture_lambda_handler
    def handler(event: dict, context: Any) -> Any:
        return call(target, event, context)

    return handler
