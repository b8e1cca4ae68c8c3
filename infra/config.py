"""Deployment settings: the defaults come from `marketing.resources`, CDK context overrides them.

Context values given on the command line (`cdk deploy -c enrichBatchSize=100`) arrive as strings,
so every reader here coerces and validates; a bad value fails synth with the key named.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

from aws_cdk import aws_logs as logs
from constructs import Construct

from marketing import resources

RETENTION_DAYS = {
    1: logs.RetentionDays.ONE_DAY, 3: logs.RetentionDays.THREE_DAYS, 5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK, 14: logs.RetentionDays.TWO_WEEKS, 30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS, 90: logs.RetentionDays.THREE_MONTHS, 120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS, 180: logs.RetentionDays.SIX_MONTHS, 365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS, 545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS, 1827: logs.RetentionDays.FIVE_YEARS,
}


class ContextError(ValueError):
    pass


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _str(value: Any) -> str:
    return str(value)


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"not an integer: {value!r}")
    return int(str(value).strip())


def _camel(logical: str) -> str:
    """`customer-events` -> `customerEvents` (the prefix of that resource's context keys)."""
    head, *rest = logical.split("-")
    return head + "".join(part.capitalize() for part in rest)


class Context:
    """Typed access to CDK context; every key read is listed in infra/README.md."""

    def __init__(self, scope: Construct):
        self._node = scope.node

    def get(self, key: str, default: Any, convert: Callable[[Any], Any]) -> Any:
        raw = self._node.try_get_context(key)
        if raw is None or raw == "":
            return default
        try:
            return convert(raw)
        except (TypeError, ValueError) as exc:
            raise ContextError(f"CDK context {key}={raw!r}: {exc}") from None

    def int(self, key: str, default: int | None, *, minimum: int | None = None,
            maximum: int | None = None) -> int | None:
        value = self.get(key, default, _int)
        if value is not None and ((minimum is not None and value < minimum)
                                  or (maximum is not None and value > maximum)):
            raise ContextError(f"CDK context {key}={value}: must be within [{minimum}, {maximum}]")
        return value

    def bool(self, key: str, default: bool) -> bool:
        return self.get(key, default, _bool)

    def str(self, key: str, default: str | None) -> str | None:
        return self.get(key, default, _str)

    def retention(self, key: str, default: int) -> logs.RetentionDays:
        days = self.int(key, default)
        if days not in RETENTION_DAYS:
            raise ContextError(f"CDK context {key}={days}: one of {sorted(RETENTION_DAYS)}")
        return RETENTION_DAYS[days]

    # --- resources.py descriptions with their context overrides applied ---------------------

    def stream_mapping(self, function: resources.Function) -> resources.StreamMapping:
        """`<fn>BatchSize`, `<fn>BatchingWindow`, `<fn>ParallelizationFactor`, `<fn>RetryAttempts`,
        `<fn>MaxRecordAge`, `<fn>BisectOnError`, `<fn>StartingPosition` (fn = enrich | decide)."""
        m = function.source
        assert isinstance(m, resources.StreamMapping)
        p = _camel(function.logical)
        return replace(
            m,
            batch_size=self.int(f"{p}BatchSize", m.batch_size, minimum=1, maximum=10000),
            max_batching_window_s=self.int(f"{p}BatchingWindow", m.max_batching_window_s, minimum=0, maximum=300),
            parallelization_factor=self.int(f"{p}ParallelizationFactor", m.parallelization_factor,
                                            minimum=1, maximum=10),
            max_retry_attempts=self.int(f"{p}RetryAttempts", m.max_retry_attempts, minimum=0, maximum=10000),
            max_record_age_s=self.int(f"{p}MaxRecordAge", m.max_record_age_s, minimum=60, maximum=604800),
            bisect_on_error=self.bool(f"{p}BisectOnError", m.bisect_on_error),
            starting_position=self.str(f"{p}StartingPosition", m.starting_position),
        )

    def queue_mapping(self, function: resources.Function) -> resources.QueueMapping:
        """`<fn>BatchSize`, `<fn>BatchingWindow`, `<fn>MaxConcurrency` (fn = deliver)."""
        m = function.source
        assert isinstance(m, resources.QueueMapping)
        p = _camel(function.logical)
        return replace(
            m,
            batch_size=self.int(f"{p}BatchSize", m.batch_size, minimum=1, maximum=10000),
            max_batching_window_s=self.int(f"{p}BatchingWindow", m.max_batching_window_s, minimum=0, maximum=300),
            max_concurrency=self.int(f"{p}MaxConcurrency", m.max_concurrency, minimum=2, maximum=1000),
        )

    def stream(self, stream: resources.Stream) -> resources.Stream:
        """`<stream>Shards`, `<stream>RetentionHours` (stream = customerEvents | enrichedEvents)."""
        p = _camel(stream.logical)
        return replace(
            stream,
            shards=self.int(f"{p}Shards", stream.shards, minimum=1),
            retention_hours=self.int(f"{p}RetentionHours", stream.retention_hours, minimum=24, maximum=8760),
        )

    def function(self, function: resources.Function) -> resources.Function:
        """`<fn>MemoryMb`, `<fn>TimeoutSeconds`."""
        p = _camel(function.logical)
        return replace(
            function,
            memory_mb=self.int(f"{p}MemoryMb", function.memory_mb, minimum=128, maximum=10240),
            timeout_s=self.int(f"{p}TimeoutSeconds", function.timeout_s, minimum=1, maximum=900),
        )


@dataclass(frozen=True)
class Names:
    """Physical names of one deployment: `<stack name>-<logical>` (resources.physical_name)."""

    prefix: str

    def __call__(self, logical: str) -> str:
        return resources.physical_name(self.prefix, logical)
