"""The one shape of a state-machine task handler: Powertools logger (masking contact data) and tracer
around one step built at cold start. The step's exception is the task's error (its class name is
what the state machine's Catch matches, e.g. CampaignInvalid)."""
from __future__ import annotations

from typing import Any, Callable

from aws_lambda_powertools import Logger, Tracer

from marketing.app.masking import MaskingFormatter
from marketing.settings import Settings


def task_handler(build: Callable[[Settings], Callable[[dict[str, Any]], Any]]) -> Callable[[dict, Any], Any]:
    logger = Logger(logger_formatter=MaskingFormatter())
    tracer = Tracer()
    step = build(Settings.from_env())  # once per cold start

    @logger.inject_lambda_context
    @tracer.capture_lambda_handler
    def handler(event: dict, context: Any) -> Any:
        return step(event)

    return handler
