"""The use cases driven end to end with the in-memory fakes and Lambda-shaped trigger records:
enrich (Kinesis → enriched stream or DLQ), decide (→ decision records and one offer), deliver (→ SMS)."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from marketing.adapters.memory import (
    MemoryCampaignStore,
    MemoryContactLedger,
    MemoryDecisionSink,
    MemoryEmail,
    MemoryOutbox,
    MemoryProfileStore,
    MemoryRecordStream,
    MemorySms,
    memory_once,
)
from marketing.adapters.memory_responses import MemoryExposures, MemoryOfferBoard, MemoryResponseStore
from marketing.app import edge
from marketing.app.attribution import Attribution
from marketing.app.campaign_cache import CampaignCache
from marketing.app.decide import Decide
from marketing.app.deliver import Deliver, PushDisabled, UnsubscribeLinks
from marketing.app.enrich import Enrich
from marketing.app.inbound import InboundRouting
from marketing.app.pacing import Unpaced
from marketing.domain.campaigns import load_campaign_file
from marketing.domain.contact_policy import ContactPolicy
from marketing.domain.handoff import EnrichedEvent
from marketing.domain.models import Channel
from marketing.domain.touchpoints import Touchpoints
from tests.unit.factories import (
    CATALOG,
    EVENTS,
    NOW,
    a_campaign,
    a_kinesis_record,
    a_profile,
    an_event,
    an_event_record,
    an_sqs_record,
)

AIRPORT = load_campaign_file(EVENTS / "campaigns" / "airport-intl-roaming.yaml", CATALOG).campaign
TRAVELLER = a_profile(tags={"value_tier": "gold", "roaming_pack": False})


def clock():
    return NOW


# ---------------------------------------------------------------- enrich

class EnrichRig:
    def __init__(self, *profiles):
        self.profiles = MemoryProfileStore(profiles)
        self.enriched = MemoryRecordStream()
        self.dead_letters = MemoryOutbox()
        self.enrich = Enrich(CATALOG, self.profiles, self.enriched, self.dead_letters, clock)

    def run(self, *payloads: bytes):
        return edge.customer_events(self.enrich, [a_kinesis_record(p, str(i + 1)) for i, p in enumerate(payloads)])


def as_bytes(record) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode()


def test_enrich_joins_the_event_with_the_profile():
    rig = EnrichRig(TRAVELLER)
    outcome = rig.run(as_bytes(an_event_record("location.enter_area", area_id="PEK_T3_INTL_DEPARTURE")))
    assert outcome.response() == {"batchItemFailures": []}
    [(partition_key, data)] = rig.enriched.records
    enriched = json.loads(data)
    assert partition_key == "8613800000001"
    assert enriched["event"]["attributes"] == {"area_id": "PEK_T3_INTL_DEPARTURE"}
    assert enriched["profile"]["tags"]["value_tier"] == "gold"
    assert rig.dead_letters.messages == []


def test_enrich_dead_letters_bad_records_with_their_reason_and_keeps_going():
    rig = EnrichRig(TRAVELLER)
    outcome = rig.run(
        b"not json",
        as_bytes(an_event_record("location.enter_area", area_id="PEK_T3", customer_id="8613999999999")),
        as_bytes(an_event_record("location.enter_airport")),
        as_bytes(an_event_record("location.enter_area", area_id="PEK_T3")),
    )
    assert outcome.response() == {"batchItemFailures": []}
    assert [(m["reason"], m["record_id"]) for m in rig.dead_letters.messages] == [
        ("not_json", "1"), ("unknown_customer", "2"), ("unknown_event_type", "3")]
    assert rig.dead_letters.messages[0]["data"] == "not json"
    assert len(rig.enriched.records) == 1
    assert outcome.counts == {"dead_lettered.not_json": 1, "dead_lettered.unknown_customer": 1,
                              "dead_lettered.unknown_event_type": 1, "enriched": 1}


def test_enrich_dead_letters_a_deeply_nested_record_instead_of_failing_the_batch():
    # BUG: EventCatalog.parse lets json's RecursionError escape; Enrich.run only catches Rejected in
    # its first loop, so the whole invocation raises, the batch is retried and the shard stops
    # (SPEC 4.1: bad input never stops a shard). Expected: one DLQ message, one enriched record.
    rig = EnrichRig(TRAVELLER)
    outcome = rig.run(b"[" * 100_000, as_bytes(an_event_record("location.enter_area", area_id="PEK_T3")))
    assert [m["reason"] for m in rig.dead_letters.messages] == ["not_json"]
    assert len(rig.enriched.records) == 1
    assert outcome.response() == {"batchItemFailures": []}


# ---------------------------------------------------------------- decide

class DecideRig:
    def __init__(self, *campaigns):
        self.ledger = MemoryContactLedger()
        self.decisions = MemoryDecisionSink()
        self.offers = MemoryOutbox()
        self.dead_letters = MemoryOutbox()
        self.decide = Decide(CampaignCache(MemoryCampaignStore(campaigns), ttl_seconds=60), self.ledger,
                             self.decisions, self.offers, clock, frozenset(Channel),
                             policy=ContactPolicy(), inbound=InboundRouting(Touchpoints(), MemoryOfferBoard()),
                             attribution=Attribution(MemoryExposures(), MemoryResponseStore()),
                             dead_letters=self.dead_letters)

    def run(self, event, profile, sequence_number="1"):
        data = EnrichedEvent(event=event, profile=profile, enriched_at=NOW).encode()
        return edge.enriched_events(self.decide, [a_kinesis_record(data, sequence_number)])

    def verdicts(self):
        return [(r["campaign_id"], r["outcome"], r["reason"], r["channel"], r["detail"]) for r in self.decisions.rows]


def at_the_airport(**kwargs):
    return an_event("location.enter_area", area_id="PEK_T3_INTL_DEPARTURE", **kwargs)


def test_decide_sends_one_offer_and_records_every_considered_campaign():
    backup = a_campaign(id="airport-backup", priority=10, trigger={"event": "location.enter_area"})
    gold_only = a_campaign(id="platinum-only", priority=90, trigger={"event": "location.enter_area"},
                           audience={"tags.value_tier": "platinum"})
    rig = DecideRig(AIRPORT, backup, gold_only)
    outcome = rig.run(at_the_airport(), TRAVELLER)
    assert outcome.response() == {"batchItemFailures": []}
    assert sorted(rig.verdicts()) == [
        ("airport-backup", "lost_arbitration", "priority", None, "airport-intl-roaming"),
        ("airport-intl-roaming", "sent", None, "sms", None),
        ("platinum-only", "not_eligible", "audience", None, "tags.value_tier"),
    ]
    [offer] = rig.offers.messages
    assert offer["decision_id"] == "8613800000001:evt-000123:airport-intl-roaming"
    assert offer["channel"] == "sms"
    assert "contact" not in offer and not {"8613800000001", "李雷"} & set(map(str, offer.values())) - {offer["customer_id"]}


def test_decide_replays_a_redelivered_event_instead_of_contacting_again():
    rig = DecideRig(AIRPORT)
    rig.run(at_the_airport(), TRAVELLER, "1")
    first = rig.verdicts()
    rig.run(at_the_airport(), TRAVELLER, "2")  # the same enriched event, delivered again
    assert rig.verdicts() == first + first
    assert {m["decision_id"] for m in rig.offers.messages} == {"8613800000001:evt-000123:airport-intl-roaming"}
    assert rig.ledger.counters[("8613800000001", "airport-intl-roaming")]["n"] == 1


def test_decide_throttles_a_second_event_beyond_the_per_customer_cap():
    rig = DecideRig(AIRPORT)
    rig.run(at_the_airport(event_id="evt-1"), TRAVELLER, "1")
    rig.run(at_the_airport(event_id="evt-2"), TRAVELLER, "2")
    assert [(r["event_id"], r["outcome"], r["reason"]) for r in rig.decisions.rows] == [
        ("evt-1", "sent", None), ("evt-2", "throttled", "per_customer")]
    assert len(rig.offers.messages) == 1


def test_decide_records_a_stale_event_as_expired():
    rig = DecideRig(AIRPORT)
    rig.run(at_the_airport(occurred_at=NOW - timedelta(minutes=6)), TRAVELLER)
    assert rig.verdicts() == [("airport-intl-roaming", "expired", "max_event_age", None, "event age 360s")]
    assert rig.offers.messages == []


@pytest.mark.parametrize("where", [{"top_factors": {"contains": "price"}}, {"top_factors": {"nin": ["tariff"]}}],
                         ids=["contains", "nin"])
def test_decide_matches_list_attributes_as_the_reference_does(where):
    # BUG (app/decide.py, handle): the event is rebuilt with CustomerEvent.model_validate from the
    # enriched JSON, so string_list attributes come back as lists, not the frozen tuples the matcher
    # expects (catalog.parse froze them; JSON turned them back into lists). `contains` on such an
    # attribute is then never true, so the campaign silently gets no decision record at all, while
    # naive_match says it triggers; `in`/`nin` raise TypeError (unhashable list) and the record is
    # reported as a batch item failure, retried until it expires.
    churn = a_campaign(id="churn-price", trigger={"event": "lifecycle.churn_risk_raised", "where": where})
    rig = DecideRig(churn)
    outcome = rig.run(an_event("lifecycle.churn_risk_raised", score=0.8, top_factors=["price", "network"]), TRAVELLER)
    assert outcome.response() == {"batchItemFailures": []}
    assert rig.verdicts() == [("churn-price", "sent", None, "sms", None)]


# ---------------------------------------------------------------- deliver

class DeliverRig:
    def __init__(self, *campaigns, sms=None):
        self.sms = sms or MemorySms()
        self.email = MemoryEmail()
        self.ledger = MemoryContactLedger()
        self.decisions = MemoryDecisionSink()
        self.later = MemoryOutbox()
        self.deliver = Deliver(CampaignCache(MemoryCampaignStore(campaigns), ttl_seconds=30), self.ledger, self.sms,
                               self.email, self.decisions, memory_once(), clock, later=self.later,
                               push=PushDisabled(), profiles=MemoryProfileStore(), policy=ContactPolicy,
                               pacing=Unpaced(), links=UnsubscribeLinks("https://example.com/unsubscribe", b"test-key"),
                               offer_board=MemoryOfferBoard())

    def run(self, *offers):
        return edge.offers(self.deliver, [an_sqs_record(o, f"m-{i}") for i, o in enumerate(offers)])


def an_offer(campaign_id="airport-intl-roaming", channel="sms", event_id="evt-000123", **contact):
    return {
        "event_id": event_id, "decision_id": f"8613800000001:{event_id}:{campaign_id}", "customer_id": "8613800000001",
        "campaign_id": campaign_id, "channel": channel, "decided_at": NOW.isoformat(),
        "contact": {"name": "李雷", "msisdn": "+8613800000001", "email": "li.lei@example.com",
                    "locale": "zh-CN", "timezone": "Asia/Shanghai", **contact},
    }


def test_deliver_sends_the_rendered_sms():
    rig = DeliverRig(AIRPORT)
    outcome = rig.run(an_offer())
    assert outcome.response() == {"batchItemFailures": []}
    assert rig.sms.sent == [("+8613800000001", "李雷您好，祝您旅途愉快！7天出境漫游包（语音+流量）仅需30元，回复Y7立即开通。")]
    assert ("8613800000001", "evt-000123") in rig.ledger.deliveries


def test_deliver_sends_the_rendered_email():
    rig = DeliverRig(AIRPORT)
    rig.run(an_offer(channel="email"))
    [mail] = rig.email.sent
    assert (mail["to"], mail["subject"]) == ("li.lei@example.com", "出境漫游包：7天30元")
    assert "产品代码ROAM_7D" in mail["text"]


def test_deliver_sends_once_for_a_message_delivered_twice():
    rig = DeliverRig(AIRPORT)
    rig.run(an_offer(), an_offer())
    rig.run(an_offer())
    assert len(rig.sms.sent) == 1


def test_a_missing_template_field_is_a_failed_decision_not_a_crash():
    rig = DeliverRig(AIRPORT)
    outcome = rig.run(an_offer(name=None))
    assert outcome.response() == {"batchItemFailures": []}
    assert rig.sms.sent == []
    [row] = rig.decisions.rows
    assert (row["decision_id"], row["outcome"], row["reason"], row["channel"]) == (
        "8613800000001:evt-000123:airport-intl-roaming", "failed", "template", "sms")
    assert row["detail"] == "template placeholder {name} has no value for this customer"


@pytest.mark.parametrize("permanent", [True, False])
def test_provider_errors(permanent):
    from marketing.ports import DeliveryError

    rig = DeliverRig(AIRPORT, sms=MemorySms(fail_with=DeliveryError("number blocked", permanent=permanent)))
    outcome = rig.run(an_offer())
    if permanent:  # a failed decision record; the message is done
        assert outcome.response() == {"batchItemFailures": []}
        assert [(r["outcome"], r["reason"], r["detail"]) for r in rig.decisions.rows] == [("failed", "provider", "number blocked")]
    else:          # SQS retries the message
        assert outcome.response() == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
        assert rig.decisions.rows == []


class FlakySms(MemorySms):
    """Refuses the first `failures` sends with a transient error, then sends."""

    def __init__(self, failures: int):
        super().__init__()
        self.failures = failures

    def send_sms(self, msisdn, text, sender_id=None):
        from marketing.ports import DeliveryError

        if self.failures:
            self.failures -= 1
            raise DeliveryError("Throttling", permanent=False)
        return super().send_sms(msisdn, text, sender_id)


def test_transient_errors_are_retried_with_backoff_within_the_invocation():
    from marketing.app.deliver import Retry

    slept = []
    rig = DeliverRig(AIRPORT, sms=FlakySms(failures=2))
    rig.deliver._retry, rig.deliver._sleep = Retry(attempts=3, backoff_s=0.1), slept.append
    outcome = rig.run(an_offer())
    assert outcome.response() == {"batchItemFailures": []}
    assert len(rig.sms.sent) == 1 and slept == [0.1, 0.2]


def test_a_held_contact_released_after_an_opt_out_is_suppressed():
    from marketing.adapters.memory import MemoryProfileStore
    from tests.unit.factories import a_profile

    rig = DeliverRig(AIRPORT)
    rig.deliver._profiles = MemoryProfileStore([a_profile(consents={"sms": False})])
    offer = {**an_offer(), "not_before": (NOW - timedelta(minutes=1)).isoformat()}
    rig.run(offer)
    assert rig.sms.sent == []
    [row] = rig.decisions.rows
    assert (row["outcome"], row["reason"]) == ("suppressed", "opt_out")


@pytest.mark.parametrize("change, expected", [
    ("complaint", ("suppressed", "complaint")),
    ("global_control", ("holdout", "global_control")),
    ("dnd", ("suppressed", "dnd")),
    (None, ("sent", None)),
])
def test_a_released_contact_is_rechecked_against_the_policy_in_force(change, expected):
    from marketing.adapters.memory import MemoryProfileStore
    from marketing.domain.contact_policy import ContactPolicy
    from tests.unit.factories import a_profile

    rig = DeliverRig(AIRPORT)
    rig.deliver._profiles = MemoryProfileStore([a_profile(consents={"dnd": change == "dnd"})])
    policy = ContactPolicy(quiet_hours=None, global_control_group=100.0 if change == "global_control" else 0.0)
    rig.deliver._policy = lambda: policy
    if change == "complaint":
        rig.ledger.record_complaint("8613800000001", NOW + timedelta(days=30))
    rig.run({**an_offer(), "not_before": (NOW - timedelta(minutes=1)).isoformat()})
    [row] = rig.decisions.rows
    assert (row["outcome"], row["reason"]) == expected
    assert len(rig.sms.sent) == (1 if change is None else 0)


# ---------------------------------------------------------------- one event decided, typed messages

def test_decide_returns_the_decision_for_one_event_without_a_stream_record():
    backup = a_campaign(id="airport-backup", priority=10, trigger={"event": "location.enter_area"})
    rig = DecideRig(AIRPORT, backup)
    decision = rig.decide.decide(at_the_airport(), TRAVELLER)
    assert decision.winner == "airport-intl-roaming"
    assert sorted((cid, o.value, r.value if r else None) for cid, o, r, _, _ in decision.verdicts) == [
        ("airport-backup", "lost_arbitration", "priority"), ("airport-intl-roaming", "sent", None)]
    offer = decision.offer
    assert (offer.decision_id, offer.channel, offer.not_before) == ("8613800000001:evt-000123:airport-intl-roaming", Channel.SMS, None)
    assert offer.contact is None   # deliver reads the profile: no contact details on the queue
    assert rig.decisions.rows == [] and rig.offers.messages == []  # the writes are the batch's


def test_decide_replays_the_stored_commitment_for_the_same_event():
    rig = DecideRig(AIRPORT)
    first = rig.decide.decide(at_the_airport(), TRAVELLER)
    again = rig.decide.decide(at_the_airport(), TRAVELLER)
    assert (again.winner, again.verdicts, again.offer) == (first.winner, first.verdicts, first.offer)
    assert rig.ledger.counters[("8613800000001", "airport-intl-roaming")]["n"] == 1


def test_decide_without_a_winner_has_no_offer():
    rig = DecideRig(AIRPORT)
    decision = rig.decide.decide(at_the_airport(occurred_at=NOW - timedelta(minutes=6)), TRAVELLER)
    assert (decision.winner, decision.offer) == (None, None)
    assert [(cid, o.value) for cid, o, *_ in decision.verdicts] == [("airport-intl-roaming", "expired")]


def test_the_offer_on_the_queue_keeps_its_wire_shape():
    rig = DecideRig(AIRPORT)
    rig.run(at_the_airport(), TRAVELLER)
    [offer] = rig.offers.messages
    assert sorted(offer) == ["campaign_id", "channel", "customer_id", "decided_at", "decision_id",
                             "event_id", "not_before"]   # ids and times: no number, address or name
    assert (offer["decided_at"], offer["not_before"]) == (NOW.isoformat(), None)


@pytest.mark.parametrize("broken", [
    {"channel": "fax"}, {"campaign_id": None}, {"not_before": "soon"}, {"decided_at": "2026-12-01T04:00:00"},
], ids=["unknown channel", "no campaign", "not_before not a time", "naive decided_at"])
def test_a_malformed_offer_message_fails_that_message_alone_and_sends_nothing(broken):
    rig = DeliverRig(AIRPORT)
    outcome = rig.run({**an_offer(event_id="evt-bad"), **broken}, an_offer())
    assert outcome.response() == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}  # redelivered, then the DLQ
    assert len(rig.sms.sent) == 1 and rig.later.messages == []


def test_a_malformed_offer_message_is_named_with_its_error():
    with pytest.raises(edge.MalformedMessage, match=r"(?s)delivery message m-0 is not an offer: .*channel"):
        edge.offer_message(an_sqs_record({**an_offer(), "channel": "fax"}, "m-0"))


def test_a_malformed_enriched_event_fails_that_record_alone():
    rig = DecideRig(AIRPORT)
    good = EnrichedEvent(event=at_the_airport(), profile=TRAVELLER, enriched_at=NOW).encode()
    outcome = edge.enriched_events(rig.decide, [a_kinesis_record(b'{"event": {}}', "1"), a_kinesis_record(good, "2")])
    assert outcome.response() == {"batchItemFailures": [{"itemIdentifier": "1"}]}
    assert len(rig.offers.messages) == 1


def test_an_offer_the_queue_refuses_fails_the_record_it_came_from():
    class RefusingOutbox(MemoryOutbox):
        def send(self, messages, delay_seconds=0):
            return list(range(len(messages)))

    rig = DecideRig(AIRPORT)
    rig.decide._offers = RefusingOutbox()
    data = EnrichedEvent(event=at_the_airport(), profile=TRAVELLER, enriched_at=NOW).encode()
    outcome = edge.enriched_events(rig.decide, [a_kinesis_record(data, "7")])
    assert outcome.response() == {"batchItemFailures": [{"itemIdentifier": "7"}]}
