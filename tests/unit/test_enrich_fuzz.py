"""Whatever bytes arrive on the stream, enrich never raises out of a batch: each record is either
forwarded, enriched, or a dead letter with a reason (SPEC 4.1), and the batch around it goes on."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketing.adapters.memory import MemoryOutbox, MemoryProfileStore, MemoryRecordStream
from marketing.app.enrich import Enrich
from marketing.data import CATALOG, packaged
from marketing.domain.catalog import EventCatalog
from marketing.domain.handoff import EnrichedEvent, StreamRecord
from marketing.domain.models import DeadLetterReason, Profile

NOW = datetime(2026, 12, 7, 12, tzinfo=timezone.utc)
CAT = EventCatalog.from_file(packaged(CATALOG))
REASONS = {r.value for r in DeadLetterReason}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)


def _valid(customer: str, **overrides) -> dict:
    return {"event_id": "e-ok", "event_type": "call.international", "customer_id": customer,
            "occurred_at": NOW.isoformat(), "attributes": {"country": "JP"}, **overrides}


def _deep(depth: int) -> bytes:
    event = json.dumps(_valid("c1", attributes={"country": "JP", "x": "DEEP"}))
    return event.replace('"DEEP"', "[" * depth + "]" * depth).encode()


records = st.one_of(
    st.binary(max_size=200),                                                     # random bytes
    json_values.map(lambda v: json.dumps(v).encode()),                           # any JSON at all
    st.dictionaries(st.sampled_from(["event_id", "event_type", "customer_id", "occurred_at", "attributes",
                                     "source", "touchpoint"]), json_values)
      .map(lambda d: json.dumps(_valid("c1") | d).encode()),                    # an event with fields spoiled
    st.integers(min_value=30, max_value=3000).map(_deep),                        # deep JSON
    st.text(min_size=1).map(lambda t: json.dumps(_valid("c1", attributes={"country": t})).encode()),
    st.sampled_from(["\\udc80", "\\ud800x", "\\udfff\\ud800"]).map(             # lone surrogates
        lambda s: json.dumps(_valid("c1", attributes={"country": "X"})).replace('"X"', f'"{s}"').encode()),
    st.integers(min_value=1, max_value=400_000).map(                            # huge attributes
        lambda n: json.dumps(_valid("c1", attributes={"country": "JP", "note": "a" * n})).encode()),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(records, min_size=1, max_size=6))
def test_no_record_raises_out_of_a_batch_and_each_is_forwarded_or_dead_lettered(data):
    enriched, letters = MemoryRecordStream(), MemoryOutbox()
    enrich = Enrich(CAT, MemoryProfileStore([Profile(customer_id="c1")]), enriched, letters, lambda: NOW)
    batch_records = [StreamRecord(record_id=str(i), partition_key="c1", data=d) for i, d in enumerate(data)]

    batch = enrich.batch(batch_records)
    for record in batch_records:
        batch.handle(record)
    assert batch.flush() == []

    assert len(enriched.records) + len(letters.messages) == len(batch_records)
    assert {m["reason"] for m in letters.messages} <= REASONS
    assert all(m["message"] and m["record_id"] for m in letters.messages)
    for _, body in enriched.records:   # what goes on is text decide can read
        EnrichedEvent.model_validate_json(body.decode("utf-8"))
