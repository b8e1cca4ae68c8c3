"""What a batch use case is, whatever triggers it: messages in, one `BatchRun` per invocation that
handles them one by one and then flushes what it writes for the whole batch.

Typed messages only: the Lambda records, their decoding and the partial-batch response are the
edge's (app/edge.py). A use case never sees a record identifier.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence, TypeVar

M = TypeVar("M")
M_contra = TypeVar("M_contra", contravariant=True)


@dataclass
class BatchOutcome:
    failures: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)   # e.g. each event's decision latency

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def observe(self, name: str, value: float) -> None:
        self.samples.setdefault(name, []).append(value)

    def response(self) -> dict[str, Any]:
        unique = list(dict.fromkeys(self.failures))
        return {"batchItemFailures": [{"itemIdentifier": i} for i in unique]}


class BatchRun(Protocol[M]):
    outcome: BatchOutcome  # counts only: the edge fills in the failures

    def handle(self, message: M) -> None:
        """One message; raising fails this message alone (it is retried), the others go on."""

    def flush(self) -> list[M]:
        """The writes after the loop (one put for the batch); returns the messages whose write failed."""


class BatchUseCase(Protocol[M_contra]):
    def batch(self, messages: Sequence[M_contra]) -> BatchRun: ...
