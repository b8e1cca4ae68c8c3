"""The pure profile-update rules (SPEC 4.7) and enrich's one write per changed customer per batch."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from marketing.adapters.memory import MemoryOutbox, MemoryProfileStore, MemoryRecordStream
from marketing.app.enrich import Enrich
from marketing.data import CATALOG, packaged
from marketing.domain.catalog import EventCatalog
from marketing.domain.handoff import StreamRecord
from marketing.domain.models import CustomerEvent, Profile
from marketing.domain.profile_updates import apply

NOW = datetime(2026, 12, 7, 12, tzinfo=timezone.utc)
CAT = EventCatalog.from_file(packaged(CATALOG))


def event(event_type: str, n: int, customer: str = "c1", age: timedelta = timedelta(0), **attributes) -> CustomerEvent:
    return CustomerEvent(event_id=f"e{n}", event_type=event_type, customer_id=customer,
                         occurred_at=NOW - age, attributes=attributes)


def test_a_call_older_than_the_window_counts_nowhere_and_a_repeat_adds_nothing():
    rules = CAT.types["call.international"].updates
    p = Profile(customer_id="c1")
    for e in (event("call.international", 1, country="JP"), event("call.international", 2, country="JP")):
        p = apply(p, e, rules, CAT.products, NOW)
    assert apply(p, event("call.international", 2, country="JP"), rules, CAT.products, NOW) is None
    p = apply(p, event("call.international", 3, age=timedelta(days=91), country="JP"), rules, CAT.products, NOW)
    assert p.tags["intl_calls_90d"] == 2


def test_a_product_tag_expires_after_the_product_duration():
    p = apply(Profile(customer_id="c1"), event("order.completed", 1, product="ROAM_7D"),
              CAT.types["order.completed"].updates, CAT.products, NOW)
    assert p.tags["roaming_pack"] is True
    later = apply(p, event("call.international", 2, country="JP"), CAT.types["call.international"].updates,
                  CAT.products, NOW + timedelta(days=8))
    assert "roaming_pack" not in later.tags


def test_profile_writes_per_batch_at_most_the_distinct_customers_updated():
    store = MemoryProfileStore([Profile(customer_id=c) for c in ("c1", "c2", "c3")])
    enrich = Enrich(CAT, store, MemoryRecordStream(), MemoryOutbox(), lambda: NOW)
    records = [StreamRecord(record_id=str(i), partition_key=c, data=json.dumps({
        "event_id": f"e{i}", "event_type": "call.international", "customer_id": c,
        "occurred_at": NOW.isoformat(), "attributes": {"country": "JP"}}).encode())
        for i, c in enumerate(["c1", "c2", "c1", "c1", "c2"])]
    batch = enrich.batch(records)
    for r in records:
        batch.handle(r)
    assert batch.flush() == []
    assert store.writes == 2
    assert store.profiles["c1"].tags["intl_calls_90d"] == 3


def test_a_profile_changed_meanwhile_is_not_overwritten_and_its_records_are_retried():
    store = MemoryProfileStore([Profile(customer_id="c1")])

    class Racing(MemoryProfileStore):  # an import lands between enrich's read and its write
        def get_profiles(self, ids):
            found = store.get_profiles(ids)
            store.profiles["c1"] = Profile(customer_id="c1", tags={"plan": "4G-58"})
            return found

        def update_profiles(self, changes):
            return store.update_profiles(changes)

    enrich = Enrich(CAT, Racing(), MemoryRecordStream(), MemoryOutbox(), lambda: NOW)
    record = StreamRecord(record_id="1", partition_key="c1", data=json.dumps({
        "event_id": "e1", "event_type": "call.international", "customer_id": "c1",
        "occurred_at": NOW.isoformat(), "attributes": {"country": "JP"}}).encode())
    batch = enrich.batch([record])
    batch.handle(record)
    assert batch.flush() == [record]
    assert store.profiles["c1"].tags == {"plan": "4G-58"}
