"""From matched campaigns to one offer (SPEC 4.4, 4.5): screening, arbitration and decision records."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketing.domain.decisions import (
    Candidate,
    Refusal,
    all_verdicts,
    arbitrate,
    current_records,
    decision_id,
    reachable_channels,
    record_rows,
    screen,
    to_records,
)
from marketing.domain.matching import Match
from marketing.domain.models import OUTBOUND, Channel, Outcome, Reason
from tests.unit.factories import NOW, a_campaign, a_profile, an_event

SMS, PUSH, EMAIL = Channel.SMS, Channel.APP_PUSH, Channel.EMAIL
TEMPLATES = {SMS: {"sms": {"text": "hi"}}, PUSH: {"app_push": {"title": "t", "body": "b"}},
             EMAIL: {"email": {"subject": "s", "text": "t"}}}


def campaign(id="offer", priority=50, channels=(SMS, PUSH, EMAIL), max_event_age="5m"):
    return a_campaign(id=id, priority=priority, channels=[TEMPLATES[c] for c in channels],
                      trigger={"event": "app.login", "max_event_age": max_event_age} if max_event_age else {"event": "app.login"})


def screened(*campaigns, profile=None, age=timedelta(seconds=30), available=frozenset(Channel), rejected=()):
    event = an_event("app.login", occurred_at=NOW - age, now=NOW)
    return screen(event, profile or a_profile(), Match(list(campaigns), list(rejected)), NOW, available)


def chosen(screening):
    return [(c.campaign.id, c.channel) for c in screening.candidates]


# ---------------------------------------------------------------- screening

def test_a_reachable_consenting_customer_becomes_a_candidate_on_the_campaigns_first_channel():
    screening = screened(campaign())
    assert chosen(screening) == [("offer", SMS)]
    assert screening.verdicts == []


def test_an_event_older_than_max_event_age_is_expired():
    screening = screened(campaign(max_event_age="5m"), age=timedelta(minutes=6))
    assert screening.verdicts == [("offer", Outcome.EXPIRED, Reason.MAX_EVENT_AGE, None, "event age 360s")]
    assert screening.candidates == []


def test_an_event_exactly_max_event_age_old_is_still_acted_on():
    assert chosen(screened(campaign(max_event_age="5m"), age=timedelta(minutes=5))) == [("offer", SMS)]


def test_a_campaign_without_max_event_age_never_expires_an_event():
    assert chosen(screened(campaign(max_event_age=None), age=timedelta(hours=20))) == [("offer", SMS)]


def test_expiry_is_per_campaign():
    screening = screened(campaign("fast", max_event_age="1m"), campaign("slow", max_event_age="10m"),
                         age=timedelta(minutes=3))
    assert [v[:3] for v in screening.verdicts] == [("fast", Outcome.EXPIRED, Reason.MAX_EVENT_AGE)]
    assert chosen(screening) == [("slow", SMS)]


def test_no_marketing_consent_suppresses():
    screening = screened(campaign(), profile=a_profile(consents={"marketing": False}))
    assert screening.verdicts == [("offer", Outcome.SUPPRESSED, Reason.MARKETING_CONSENT, None, None)]


def test_do_not_disturb_suppresses():
    screening = screened(campaign(), profile=a_profile(consents={"dnd": True}))
    assert screening.verdicts == [("offer", Outcome.SUPPRESSED, Reason.DND, None, None)]


def test_expiry_is_reported_before_consent():
    screening = screened(campaign(), profile=a_profile(consents={"marketing": False}), age=timedelta(minutes=10))
    assert [v[1:3] for v in screening.verdicts] == [(Outcome.EXPIRED, Reason.MAX_EVENT_AGE)]


@pytest.mark.parametrize(
    ("campaign_channels", "profile_overrides", "expected"),
    [
        ((SMS, PUSH, EMAIL), {}, SMS),
        ((PUSH, SMS), {}, PUSH),
        ((EMAIL, SMS), {}, EMAIL),
        ((SMS, PUSH, EMAIL), {"consents": {"sms": False}}, PUSH),
        ((SMS, PUSH, EMAIL), {"msisdn": None}, PUSH),                      # no number to text
        ((EMAIL, SMS), {"email": None}, SMS),                              # no address to mail
        ((PUSH, SMS), {"push_endpoint": None}, SMS),                       # no app registered for push
        ((EMAIL, SMS), {"consents": {"email": False}}, SMS),
        ((SMS, PUSH, EMAIL), {"consents": {"sms": False, "app_push": False}}, EMAIL),
        ((SMS, PUSH, EMAIL), {"channel_preference": ["email", "sms"]}, EMAIL),
        ((SMS, PUSH), {"channel_preference": ["email", "app_push"]}, PUSH),  # preferred but not offered
        ((SMS, PUSH, EMAIL), {"channel_preference": ["email"], "consents": {"email": False}}, SMS),
    ],
)
def test_the_channel_follows_campaign_order_consents_reachability_and_preference(campaign_channels, profile_overrides, expected):
    screening = screened(campaign(channels=campaign_channels), profile=a_profile(**profile_overrides))
    assert chosen(screening) == [("offer", expected)]


def test_channels_the_customer_did_not_rank_keep_the_campaigns_order():
    profile = a_profile(channel_preference=["email"])
    assert reachable_channels(campaign(channels=(PUSH, SMS, EMAIL)), profile, frozenset(Channel)) == [EMAIL, PUSH, SMS]


def test_opting_out_of_every_channel_the_campaign_uses_suppresses_as_opt_out():
    profile = a_profile(consents={"sms": False, "email": False, "app_push": False})
    assert screened(campaign(), profile=profile).verdicts == [("offer", Outcome.SUPPRESSED, Reason.OPT_OUT, None, None)]


def test_a_consented_channel_without_an_address_suppresses_as_unreachable():
    profile = a_profile(msisdn=None, consents={"sms": True, "email": False, "app_push": False})
    assert screened(campaign(channels=(SMS,)), profile=profile).verdicts == [
        ("offer", Outcome.SUPPRESSED, Reason.NO_CHANNEL, None, None)]


def test_only_channels_enabled_for_delivery_are_chosen():
    screening = screened(campaign(channels=(PUSH, SMS)), available=frozenset({SMS}))
    assert chosen(screening) == [("offer", SMS)]
    screening = screened(campaign(channels=(PUSH,)), available=frozenset({SMS, EMAIL}))
    assert screening.verdicts == [("offer", Outcome.SUPPRESSED, Reason.NO_CHANNEL, None, None)]


def test_candidates_come_in_arbitration_order_priority_first_then_id():
    screening = screened(campaign("b-offer", 50), campaign("low", 10), campaign("a-offer", 50), campaign("top", 90))
    assert [c for c, _ in chosen(screening)] == ["top", "a-offer", "b-offer", "low"]


def test_audience_rejections_pass_through_untouched():
    rejected = [(campaign("gold-only"), "tags.value_tier")]
    assert screened(campaign(), rejected=rejected).rejected == rejected


# ---------------------------------------------------------------- arbitration

def candidates(*ids, channel=SMS):
    return [Candidate(campaign(cid), channel) for cid in ids]


class Ledger:
    """A reserve callback that refuses the campaigns it is told to and records what it was asked."""

    def __init__(self, refuse=None):
        self.refuse = refuse or {}
        self.asked = []

    def __call__(self, candidate):
        self.asked.append(candidate.campaign.id)
        return self.refuse.get(candidate.campaign.id)


def test_the_first_reservable_candidate_wins_and_the_rest_lose_to_it():
    ledger = Ledger()
    winner, verdicts = arbitrate(candidates("top", "mid", "low"), ledger)
    assert winner.campaign.id == "top"
    assert verdicts == [
        ("top", Outcome.SENT, None, SMS, None),
        ("mid", Outcome.LOST_ARBITRATION, Reason.PRIORITY, None, "top"),
        ("low", Outcome.LOST_ARBITRATION, Reason.PRIORITY, None, "top"),
    ]
    assert ledger.asked == ["top"]  # no contact is reserved for a loser


def test_a_refused_candidate_gets_its_refusal_and_the_next_one_is_tried():
    ledger = Ledger({
        "top": Refusal(Outcome.THROTTLED, Reason.PER_CUSTOMER, "1 of 1"),
        "mid": Refusal(Outcome.THROTTLED, Reason.COOLDOWN, "last contact 2026-11-30T09:00:00"),
    })
    winner, verdicts = arbitrate(candidates("top", "mid", "low", "last"), ledger)
    assert winner.campaign.id == "low"
    assert verdicts == [
        ("top", Outcome.THROTTLED, Reason.PER_CUSTOMER, None, "1 of 1"),
        ("mid", Outcome.THROTTLED, Reason.COOLDOWN, None, "last contact 2026-11-30T09:00:00"),
        ("low", Outcome.SENT, None, SMS, None),
        ("last", Outcome.LOST_ARBITRATION, Reason.PRIORITY, None, "low"),
    ]
    assert ledger.asked == ["top", "mid", "low"]


def test_when_every_reservation_is_refused_there_is_no_winner():
    refusal = Refusal(Outcome.THROTTLED, Reason.PER_CUSTOMER, "1 of 1")
    winner, verdicts = arbitrate(candidates("a", "b"), Ledger({"a": refusal, "b": refusal}))
    assert winner is None
    assert [v[1] for v in verdicts] == [Outcome.THROTTLED, Outcome.THROTTLED]


def test_nothing_to_arbitrate():
    assert arbitrate([], Ledger()) == (None, [])


def test_ties_on_priority_go_to_the_smaller_id_every_time():
    for order in (["zeta", "alpha", "mid"], ["mid", "zeta", "alpha"]):
        screening = screened(*[campaign(cid, priority=70) for cid in order])
        winner, verdicts = arbitrate(screening.candidates, Ledger())
        assert winner.campaign.id == "alpha"
        assert [(v[0], v[1], v[4]) for v in verdicts] == [
            ("alpha", Outcome.SENT, None),
            ("mid", Outcome.LOST_ARBITRATION, "alpha"),
            ("zeta", Outcome.LOST_ARBITRATION, "alpha"),
        ]


def test_the_winner_is_sent_on_its_chosen_channel():
    screening = screened(campaign("push-first", channels=(PUSH, SMS)))
    winner, verdicts = arbitrate(screening.candidates, Ledger())
    assert (winner.channel, verdicts[0][3]) == (PUSH, PUSH)


# ---------------------------------------------------------------- decision records

def test_the_decision_id_is_stable_and_names_the_customer_the_event_and_the_campaign():
    assert decision_id("c1", "evt-000123", "airport-intl-roaming") == "c1:evt-000123:airport-intl-roaming"
    assert decision_id("c1", "evt-000123", "roam") == decision_id("c1", "evt-000123", "roam")
    assert decision_id("c1", "evt-000123", "roam") != decision_id("c2", "evt-000123", "roam")  # ids are per customer


def test_audience_rejections_become_not_eligible_records_naming_the_failed_path():
    verdicts = all_verdicts([(campaign("gold-only"), "tags.value_tier")],
                            [("offer", Outcome.SENT, None, SMS, None)])
    assert verdicts == [
        ("gold-only", Outcome.NOT_ELIGIBLE, Reason.AUDIENCE, None, "tags.value_tier"),
        ("offer", Outcome.SENT, None, SMS, None),
    ]


VERDICTS = [
    ("gold-only", Outcome.NOT_ELIGIBLE, Reason.AUDIENCE, None, "tags.value_tier"),
    ("top", Outcome.THROTTLED, Reason.PER_CUSTOMER, None, "1 of 1"),
    ("airport-intl-roaming", Outcome.SENT, None, SMS, None),
    ("low", Outcome.LOST_ARBITRATION, Reason.PRIORITY, None, "airport-intl-roaming"),
]


def test_one_record_per_considered_campaign_with_the_contract_fields():
    event = an_event("app.login", event_id="evt-000123", customer_id="8613800000001")
    records = to_records(event, VERDICTS, NOW, 3.2)
    sent = records[2]
    assert sent.model_dump(mode="json") == {
        "decision_id": "8613800000001:evt-000123:airport-intl-roaming", "event_id": "evt-000123",
        "customer_id": "8613800000001", "campaign_id": "airport-intl-roaming", "outcome": "sent",
        "reason": None, "channel": "sms", "decided_at": "2026-12-01T12:00:00+08:00", "latency_ms": 3.2,
        "detail": None,
    }
    assert [(r.campaign_id, r.outcome.value, r.reason and r.reason.value, r.detail) for r in records] == [
        ("gold-only", "not_eligible", "audience", "tags.value_tier"),
        ("top", "throttled", "per_customer", "1 of 1"),
        ("airport-intl-roaming", "sent", None, None),
        ("low", "lost_arbitration", "priority", "airport-intl-roaming"),
    ]


def test_record_rows_serialise_exactly_like_validated_records():
    event = an_event("app.login", event_id="evt-000123")
    rows = json.loads(json.dumps(record_rows(event, VERDICTS, NOW.isoformat(), 3.2)))
    assert rows == [r.model_dump(mode="json") for r in to_records(event, VERDICTS, NOW, 3.2)]


def test_reprocessing_an_event_gives_the_same_decision_ids():
    event = an_event("app.login", event_id="evt-000123")
    first = [r["decision_id"] for r in record_rows(event, VERDICTS, NOW.isoformat(), 1.0)]
    again = [r["decision_id"] for r in record_rows(event, VERDICTS, (NOW + timedelta(minutes=1)).isoformat(), 9.0)]
    assert first == again == [decision_id(event.customer_id, "evt-000123", v[0]) for v in VERDICTS]


def test_outcomes_are_the_contracts_vocabulary():
    assert [o.value for o in Outcome] == [
        "sent", "deferred", "holdout", "throttled", "suppressed", "not_eligible", "expired", "lost_arbitration", "failed"]


def a_row(outcome, decided_at, campaign_id="airport-intl-roaming", reason=None):
    return {"decision_id": f"evt-000123:{campaign_id}", "event_id": "evt-000123", "customer_id": "8613800000001",
            "campaign_id": campaign_id, "outcome": outcome, "reason": reason, "channel": "sms",
            "decided_at": decided_at, "latency_ms": 1.0, "detail": None}


def test_the_latest_verdict_stands_whatever_the_storage_order():
    sent = a_row("sent", "2026-12-01T04:00:00+00:00")
    failed = a_row("failed", "2026-12-01T04:00:05+00:00", reason="provider")
    for rows in ([sent, failed], [failed, sent]):
        assert current_records(rows)["evt-000123:airport-intl-roaming"]["outcome"] == "failed"


def test_at_the_same_instant_a_delivery_failure_supersedes_the_decision_to_send():
    sent = a_row("sent", "2026-12-01T04:00:00+00:00")
    failed = a_row("failed", "2026-12-01T04:00:00+00:00", reason="template")
    for rows in ([sent, failed], [failed, sent]):
        assert current_records(rows)["evt-000123:airport-intl-roaming"]["reason"] == "template"


def test_a_replayed_decision_keeps_one_verdict_per_decision_id():
    rows = [a_row("sent", "2026-12-01T04:00:00+00:00"), a_row("sent", "2026-12-01T04:00:00+00:00"),
            a_row("not_eligible", "2026-12-01T04:00:00+00:00", campaign_id="gold-only", reason="audience")]
    current = current_records(rows)
    assert sorted((k, v["outcome"]) for k, v in current.items()) == [
        ("evt-000123:airport-intl-roaming", "sent"), ("evt-000123:gold-only", "not_eligible")]


@settings(max_examples=200)
@given(
    channels=st.lists(st.sampled_from(OUTBOUND), min_size=1, max_size=3, unique=True),   # what a campaign may name
    preference=st.lists(st.sampled_from(OUTBOUND), max_size=4),
    consents=st.fixed_dictionaries({c.value: st.booleans() for c in OUTBOUND}),
    msisdn=st.sampled_from([None, "+8613800000001"]),
    email=st.sampled_from([None, "li.lei@example.com"]),
    push_endpoint=st.sampled_from([None, "arn:aws:sns:us-east-1:123456789012:endpoint/GCM/app/1"]),
    available=st.frozensets(st.sampled_from(list(Channel))),
)
def test_screening_picks_the_first_of_the_reachable_channels_in_preference_order(channels, preference, consents, msisdn, email,
                                                                                 push_endpoint, available):
    # screening finds the first channel without listing them all; it must be the one the list starts with
    profile = a_profile(channel_preference=[c.value for c in preference], consents=consents, msisdn=msisdn, email=email,
                        push_endpoint=push_endpoint)
    offer = campaign(channels=tuple(channels))
    expected = reachable_channels(offer, profile, available)
    screening = screened(offer, profile=profile, available=available)
    assert chosen(screening) == ([("offer", expected[0])] if expected else [])
