"""Partial batch responses, as Lambda's ReportBatchItemFailures expects them.

Records are handled one by one by Powertools' BatchProcessor (a record that raises is reported,
the others go on); what a use case flushes after the loop (one put for the whole batch) can fail
per record too, and those identifiers are added to the same response.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

KINESIS = EventType.KinesisDataStreams
SQS = EventType.SQS


@dataclass
class BatchOutcome:
    failures: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def response(self) -> dict[str, Any]:
        unique = list(dict.fromkeys(self.failures))
        return {"batchItemFailures": [{"itemIdentifier": i} for i in unique]}


def process(records: list[dict[str, Any]], kind: EventType, handle: Callable[[Any], None]) -> list[str]:
    """Run `handle` on every record; returns the identifiers of the records that raised."""
    if not records:
        return []
    processor = BatchProcessor(event_type=kind, raise_on_entire_batch_failure=False)
    with processor(records=records, handler=handle):
        processor.process()
    return [f["itemIdentifier"] for f in processor.response()["batchItemFailures"]]
