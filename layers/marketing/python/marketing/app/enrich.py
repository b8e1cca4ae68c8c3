"""Enrich: a Kinesis batch of customer events → validated, joined with profiles → the enriched stream.

One BatchGetItem per 100 distinct customers, one PutRecords for the batch. A record that cannot be
processed (SPEC 4.1) goes to the dead-letter queue with its reason; it never stops the shard, and
nothing leaves this function without being either forwarded or dead-lettered.
"""
from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any, Callable

from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord

from marketing.app.batch import KINESIS, BatchOutcome, process
from marketing.domain.catalog import EventCatalog, Rejected
from marketing.domain.models import CustomerEvent, DeadLetterReason
from marketing.ports import Outbox, ProfileStore, RecordStream


def enriched_record(event: CustomerEvent, profile_json: dict[str, Any], enriched_at: datetime) -> bytes:
    return json.dumps(
        {"event": event.model_dump(mode="json"), "profile": profile_json, "enriched_at": enriched_at.isoformat()},
        ensure_ascii=False, separators=(",", ":"),
    ).encode()


def dead_letter(stage: str, reason: DeadLetterReason, message: str, data: bytes, record_id: str,
                partition_key: str, at: datetime) -> dict[str, Any]:
    try:
        text, encoding = data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = base64.b64encode(data).decode(), "base64"
    return {
        "stage": stage, "reason": reason.value, "message": message, "record_id": record_id,
        "partition_key": partition_key, "data": text, "encoding": encoding, "dead_lettered_at": at.isoformat(),
    }


class Enrich:
    def __init__(self, catalog: EventCatalog, profiles: ProfileStore, enriched: RecordStream,
                 dead_letters: Outbox, clock: Callable[[], datetime]):
        self._catalog, self._profiles, self._enriched = catalog, profiles, enriched
        self._dlq, self._clock = dead_letters, clock

    def run(self, records: list[dict[str, Any]]) -> BatchOutcome:
        now = self._clock()
        outcome = BatchOutcome()
        parsed: dict[str, CustomerEvent | Rejected] = {}
        for raw in records:
            record = KinesisStreamRecord(raw)
            try:
                parsed[record.kinesis.sequence_number] = self._catalog.parse(record.kinesis.data_as_bytes(), now)
            except Rejected as rejected:
                parsed[record.kinesis.sequence_number] = rejected
        wanted = {e.customer_id for e in parsed.values() if isinstance(e, CustomerEvent)}
        profiles = {cid: p.model_dump(mode="json") for cid, p in self._profiles.get_profiles(wanted).items()}

        forward: list[tuple[str, bytes]] = []
        forward_ids: list[str] = []
        letters: list[dict[str, Any]] = []
        letter_ids: list[str] = []

        def handle(record: KinesisStreamRecord) -> None:
            seq = record.kinesis.sequence_number
            item = parsed[seq]
            if isinstance(item, CustomerEvent) and item.customer_id not in profiles:
                item = Rejected(DeadLetterReason.UNKNOWN_CUSTOMER, f"no profile for customer {item.customer_id!r}")
            if isinstance(item, Rejected):
                letters.append(dead_letter("enrich", item.reason, item.message, record.kinesis.data_as_bytes(), seq,
                                           record.kinesis.partition_key, now))
                letter_ids.append(seq)
                outcome.count(f"dead_lettered.{item.reason.value}")
                return
            forward.append((item.customer_id, enriched_record(item, profiles[item.customer_id], now)))
            forward_ids.append(seq)
            outcome.count("enriched")

        outcome.failures += process(records, KINESIS, handle)
        outcome.failures += [forward_ids[i] for i in self._enriched.put(forward)]
        outcome.failures += [letter_ids[i] for i in self._dlq.send(letters)]
        return outcome
