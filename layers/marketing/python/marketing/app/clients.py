"""What every composition root shares at cold start: boto3 clients with one retry policy, the clock,
the log line for a stored campaign no longer valid, and the idempotency configs the handler feeds the
Lambda context. Imports no use case, so a function's wiring pulls in only what that function builds.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=20)
_idempotency_configs: list[Any] = []


def log_invalid(campaign_id: str, errors: list[str]) -> None:
    # a stored campaign no longer valid (e.g. the catalog changed): skipped, and said loudly
    logging.getLogger("marketing").error("campaign %s is invalid and not live: %s", campaign_id, "; ".join(errors))


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def client(service: str) -> Any:
    return boto3.client(service, config=_CONFIG)


def track_idempotency(config: Any) -> None:
    """An idempotency config whose in-progress records should expire with the invocation."""
    _idempotency_configs.append(config)


def register_lambda_context(context: Any) -> None:
    """Idempotency records expire their in-progress state with the invocation's remaining time."""
    for config in _idempotency_configs:
        config.register_lambda_context(context)
