"""Enrich: a Kinesis batch of customer events → validated, joined with profiles → the enriched stream.

One BatchGetItem per 100 distinct customers, one PutRecords for the batch. The catalog's profile
updates (SPEC 4.7) are applied first, in the batch's order, so each event is enriched with — and
decided on — the profile after it; at most one conditional profile write per changed customer. A record that cannot be
processed (SPEC 4.1) goes to the dead-letter queue with its reason; it never stops the shard, and
nothing leaves this function without being either forwarded or dead-lettered.
"""
from __future__ import annotations

import base64
from datetime import datetime
from typing import Any, Callable, Sequence

from marketing.app.batch import BatchOutcome
from marketing.domain.catalog import EventCatalog, Rejected
from marketing.domain.handoff import EnrichedEvent, StreamRecord
from marketing.domain.models import CustomerEvent, DeadLetterReason, Profile
from marketing.domain.profile_updates import Draft, Instant, UpdateError, new_profile
from marketing.ports import Outbox, ProfileStore, RecordStream


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

    def batch(self, records: Sequence[StreamRecord]) -> EnrichBatch:
        """Every record parsed first, so the profiles are read once for the batch."""
        now = self._clock()
        parsed: dict[str, CustomerEvent | Rejected] = {}
        for record in records:
            try:
                parsed[record.record_id] = self._catalog.parse(record.data, now)
            except Rejected as rejected:
                parsed[record.record_id] = rejected
        wanted = {e.customer_id for e in parsed.values() if isinstance(e, CustomerEvent)}
        stored = self._profiles.get_profiles(wanted)
        seen: dict[str, Profile] = {}  # each event's profile after its own update
        seen_last: dict[str, Profile] = {}
        drafts: dict[str, Draft] = {}
        instant = Instant(now)
        for record in records:
            event = parsed[record.record_id]
            if not isinstance(event, CustomerEvent):
                continue
            kind, customer = self._catalog.types[event.event_type], event.customer_id
            try:
                draft = drafts.get(customer)
                if draft is None:
                    profile = stored.get(customer)
                    if profile is None and kind.creates_profile:
                        profile = new_profile(event)
                    if profile is None:
                        continue  # unknown customer: dead-lettered when handled
                    draft = drafts[customer] = Draft(profile)
                    draft.changed = customer not in stored
                if draft.apply(event, kind.updates, self._catalog.products, instant) or customer not in seen_last:
                    seen_last[customer] = draft.profile()
                seen[record.record_id] = seen_last[customer]
            except UpdateError as e:
                parsed[record.record_id] = Rejected(DeadLetterReason.PROFILE_UPDATE, str(e))
                if customer in drafts:  # none of the failed event's rules stays applied
                    before = drafts[customer]
                    drafts[customer] = Draft(seen_last.get(customer, before.base))
                    drafts[customer].changed = customer in seen_last and before.changed
                    if customer not in seen_last:
                        del drafts[customer]
        changed = [(stored.get(c), seen_last[c]) for c, d in sorted(drafts.items()) if d.changed]
        conflicted = self._profiles.update_profiles(changed) if changed else set()
        return EnrichBatch(self._enriched, self._dlq, now, parsed, seen, conflicted)


class EnrichBatch:
    def __init__(self, enriched: RecordStream, dead_letters: Outbox, now: datetime,
                 parsed: dict[str, CustomerEvent | Rejected], profiles: dict[str, Profile],
                 conflicted: set[str] = frozenset()):  # type: ignore[assignment]
        self._enriched, self._dlq = enriched, dead_letters
        self._now, self._parsed, self._profiles = now, parsed, profiles
        self._conflicted = conflicted
        self._retry: list[StreamRecord] = []
        self.outcome = BatchOutcome()
        self._forward: list[tuple[StreamRecord, EnrichedEvent]] = []
        self._letters: list[tuple[StreamRecord, dict[str, Any]]] = []

    def handle(self, record: StreamRecord) -> None:
        item = self._parsed[record.record_id]
        if isinstance(item, CustomerEvent) and item.customer_id in self._conflicted:
            self._retry.append(record)  # another writer changed the profile meanwhile: retried, re-read
            self.outcome.count("retried.profile_conflict")
            return
        if isinstance(item, CustomerEvent) and record.record_id not in self._profiles:
            item = Rejected(DeadLetterReason.UNKNOWN_CUSTOMER, f"no profile for customer {item.customer_id!r}")
        if isinstance(item, Rejected):
            self._letters.append((record, dead_letter("enrich", item.reason, item.message, record.data,
                                                      record.record_id, record.partition_key, self._now)))
            self.outcome.count(f"dead_lettered.{item.reason.value}")
            return
        self._forward.append((record, EnrichedEvent(event=item, profile=self._profiles[record.record_id],
                                                    enriched_at=self._now)))
        self.outcome.count("enriched")

    def flush(self) -> list[StreamRecord]:
        """One put of the enriched events, one send of the dead letters; what failed is retried."""
        failed = self._enriched.put([(e.event.customer_id, e.encode()) for _, e in self._forward])
        undelivered = self._dlq.send([letter for _, letter in self._letters])
        return [self._forward[i][0] for i in failed] + [self._letters[i][0] for i in undelivered] + self._retry
