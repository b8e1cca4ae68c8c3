"""Bad input never stops a shard (SPEC 4.1): each malformed record lands on the events DLQ with its
reason and its original data, and the valid records around it in the same batch are processed.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from marketing.domain.decisions import current_records
from marketing.domain.models import DeadLetterReason
from tests.integration.world import a_campaign, a_profile, an_event

LI_LEI = "8613800000001"


def _without(event: dict, field: str) -> dict:
    return {k: v for k, v in event.items() if k != field}


BAD_RECORDS = {
    DeadLetterReason.NOT_JSON: lambda: b"{\"event_id\": \"evt-broken\", \"event_type\": ",
    DeadLetterReason.UNKNOWN_EVENT_TYPE: lambda: an_event("location.teleport", customer=LI_LEI),
    DeadLetterReason.MISSING_FIELD: lambda: _without(an_event(customer=LI_LEI), "occurred_at"),
    DeadLetterReason.INVALID_ATTRIBUTE: lambda: an_event(customer=LI_LEI, area=None, area_id=3),
    DeadLetterReason.IN_FUTURE: lambda: an_event(customer=LI_LEI, age=-timedelta(hours=1)),
    DeadLetterReason.TOO_OLD: lambda: an_event(customer=LI_LEI, age=timedelta(hours=25)),
    DeadLetterReason.UNKNOWN_CUSTOMER: lambda: an_event(customer="8613899999999"),
}


@pytest.mark.parametrize("reason", list(BAD_RECORDS), ids=str)
def test_a_bad_record_is_dead_lettered_with_its_reason_and_its_batch_goes_on(world, reason):
    world.add_campaigns(a_campaign("roam-offer", text="{name}：漫游包"))
    world.add_profiles(a_profile(LI_LEI, name="李雷"))
    bad = BAD_RECORDS[reason]()
    before, after = an_event(customer=LI_LEI), an_event(customer=LI_LEI)

    # one PutRecords call, one partition key: the three records share a shard and so a batch
    world.publish(before, bad, after, partition_key=LI_LEI)
    world.run()

    letters = world.dead_letters()
    assert [letter["reason"] for letter in letters] == [reason]
    sent_data = bad if isinstance(bad, bytes) else json.dumps(bad, ensure_ascii=False).encode()
    assert letters[0]["data"].encode() == sent_data  # enough to inspect and replay it
    assert letters[0]["message"]
    assert world.sms() == [(f"+{LI_LEI}", "李雷：漫游包")] * 2
    assert world.messages_on("ENRICH_FAILURES_URL") == 0


def _nested(depth: int) -> dict:
    """An event whose attribute `deep` nests `depth` lists: RecursionError and pydantic's own limit lie on the way."""
    event = an_event(customer=LI_LEI)
    event["attributes"]["deep"] = json.loads("[" * depth + "]" * depth)
    return event


def _lone_surrogate() -> bytes:
    """Valid UTF-8 and valid JSON, but the string it decodes to cannot be encoded as text again."""
    return json.dumps(an_event(customer=LI_LEI, note="x")).replace('"x"', '"\\udc80"').encode()


def _huge() -> dict:
    """Kinesis takes up to 1 MiB; the dead letter of it would not fit an SQS message."""
    return an_event(customer=LI_LEI, note="中" * 300_000)


POISON = {
    "nested_500_deep": (lambda: _nested(500), DeadLetterReason.INVALID_FIELD),
    "nested_300_deep": (lambda: _nested(300), DeadLetterReason.INVALID_FIELD),
    "nested_50k_deep": (lambda: b'{"attributes": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", DeadLetterReason.NOT_JSON),
    "lone_surrogate": (_lone_surrogate, DeadLetterReason.INVALID_FIELD),
    "over_the_queue_limit": (_huge, DeadLetterReason.INVALID_FIELD),
}


@pytest.mark.parametrize("kind", list(POISON))
def test_a_poison_record_reaches_the_dlq_with_its_reason_and_the_record(world, kind):
    world.add_campaigns(a_campaign("roam-offer", text="{name}：漫游包"))
    world.add_profiles(a_profile(LI_LEI, name="李雷"))
    make, reason = POISON[kind]
    bad = make()
    sent_data = bad if isinstance(bad, bytes) else json.dumps(bad, ensure_ascii=False).encode()

    world.publish(an_event(customer=LI_LEI), bad, an_event(customer=LI_LEI), partition_key=LI_LEI)
    world.run()

    letters = world.dead_letters()
    assert [letter["reason"] for letter in letters] == [reason], letters
    letter = letters[0]
    assert letter["message"]
    if letter.get("data_s3"):  # too big for the queue: the whole letter is in S3, the queue names it
        bucket, key = letter["data_s3"].removeprefix("s3://").split("/", 1)
        letter = json.loads(world.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
        assert letter["reason"] == reason
    assert letter["data"].encode("utf-8", "surrogatepass") == sent_data
    assert (kind == "over_the_queue_limit") == bool(letters[0].get("data_s3"))
    assert world.sms() == [(f"+{LI_LEI}", "李雷：漫游包")] * 2   # its neighbours went on
    assert world.messages_on("ENRICH_FAILURES_URL") == 0         # and nothing was retried into a pointer


HAN_MEIMEI = "8613800000002"


def test_an_event_id_another_customer_used_is_a_new_event_for_this_one(world):
    """Upstream's event ids are unique per customer: B's evt-1 is not a replay of A's evt-1."""
    world.add_campaigns(a_campaign("roam-offer", text="{name}：漫游包"))
    world.add_profiles(a_profile(LI_LEI, name="李雷"), a_profile(HAN_MEIMEI, name="韩梅梅"))

    world.publish(an_event(customer=LI_LEI, event_id="evt-1"))
    world.run()
    world.publish(an_event(customer=HAN_MEIMEI, event_id="evt-1"))
    world.run()

    assert sorted(world.sms()) == [(f"+{LI_LEI}", "李雷：漫游包"), (f"+{HAN_MEIMEI}", "韩梅梅：漫游包")]
    standing = current_records(world.decisions("evt-1"))
    assert {(r["customer_id"], r["outcome"]) for r in standing.values()} == {(LI_LEI, "sent"), (HAN_MEIMEI, "sent")}
    assert world.dead_letters() == []


def test_a_customers_event_id_reused_for_another_event_is_refused_as_a_conflict_and_a_replay_is_not(world):
    world.add_campaigns(a_campaign("roam-offer", text="{name}：漫游包"))
    world.add_profiles(a_profile(LI_LEI, name="李雷"))
    first = an_event(customer=LI_LEI, event_id="evt-1")
    other = an_event(customer=LI_LEI, event_id="evt-1", age=timedelta(minutes=5))  # same id, another event

    world.publish(first)
    world.run()
    world.publish(first, other)   # the first re-delivered (a replay), then the conflicting one
    world.run()

    assert world.sms() == [(f"+{LI_LEI}", "李雷：漫游包")]
    letters = world.dead_letters()
    assert [(letter["stage"], letter["reason"]) for letter in letters] == [("decide", "duplicate_id_conflict")]
    refused = json.loads(letters[0]["data"])
    assert datetime.fromisoformat(refused["occurred_at"]) == datetime.fromisoformat(other["occurred_at"])
    standing = current_records(world.decisions("evt-1"))
    assert [(r["customer_id"], r["outcome"]) for r in standing.values()] == [(LI_LEI, "sent")]
