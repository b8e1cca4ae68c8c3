"""Inbound sessions, attribution of conversions and unsubscribes, reply keywords: the pure rules."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest
from pydantic import ValidationError

from marketing.domain.campaigns import load_campaign_file
from marketing.domain.models import Channel
from marketing.domain.responses import (Exposure, Group, ResponseKind, ResponseRecord, attribute_conversion,
                                        attribute_unsubscribe, conversion_campaigns, converted, reply_intent)
from marketing.domain.touchpoints import Touchpoints, current_touchpoint
from marketing_tools.demo.response_traffic import conversion_event
from tests.unit.factories import CATALOG, EVENTS, NOW, a_campaign, an_event

ROAM = {"event": "order.completed", "where": {"product": "ROAM_7D"}, "window": "7d"}


def test_the_shipped_touchpoints_file_opens_sessions_for_store_care_app_and_web():
    touchpoints = Touchpoints.from_file(EVENTS / "touchpoints.yaml")
    assert {rule.touchpoint for rule in touchpoints.sessions.values()} == {Channel.STORE, Channel.CARE, Channel.APP,
                                                                           Channel.WEB}
    touchpoint, until = touchpoints.session_change("store.visit", NOW)
    assert touchpoint is Channel.STORE and until == NOW + timedelta(minutes=45)
    assert touchpoints.session_change("care.call_ended", NOW) == (Channel.CARE, NOW)  # closes at once
    assert touchpoints.session_change("location.enter_area", NOW) is None


def test_a_session_must_be_at_an_inbound_touchpoint():
    with pytest.raises(ValidationError, match="not an inbound touchpoint"):
        Touchpoints.model_validate({"sessions": {"app.login": {"touchpoint": "sms", "length": "10m"}}})


def test_the_current_touchpoint_is_the_open_session_lasting_longest():
    sessions = {Channel.STORE: NOW + timedelta(minutes=5), Channel.APP: NOW + timedelta(minutes=20),
                Channel.CARE: NOW - timedelta(minutes=1)}
    assert current_touchpoint(sessions, NOW) == (Channel.APP, NOW + timedelta(minutes=20))
    assert current_touchpoint({Channel.CARE: NOW}, NOW) is None


def _exposure(campaign_id="app-login-offer", ago=timedelta(days=1), group=Group.TREATED, event_id="evt-1"):
    return Exposure(campaign_id, event_id, NOW - ago, group, "sms" if group is Group.TREATED else None)


def test_a_conversion_matching_the_rule_inside_the_window_goes_to_the_latest_exposure():
    campaign = a_campaign(conversion=ROAM)
    event = an_event("order.completed", occurred_at=NOW, product="ROAM_7D")
    records = attribute_conversion(event, [campaign], [_exposure(ago=timedelta(days=3), event_id="old"),
                                                       _exposure(ago=timedelta(days=1), event_id="new")])
    assert [(r.kind, r.group, r.contact_event_id) for r in records] == [(ResponseKind.CONVERSION, Group.TREATED, "new")]


@pytest.mark.parametrize("product, ago", [("OTHER", timedelta(days=1)), ("ROAM_7D", timedelta(days=8)),
                                          ("ROAM_7D", -timedelta(hours=1))])
def test_no_conversion_for_another_product_outside_the_window_or_before_the_contact(product, ago):
    campaign = a_campaign(conversion=ROAM)
    event = an_event("order.completed", occurred_at=NOW, product=product)
    assert attribute_conversion(event, [campaign], [_exposure(ago=ago)]) == []


def test_a_holdout_customer_converts_as_holdout():
    campaign = a_campaign(conversion=ROAM)
    event = an_event("order.completed", occurred_at=NOW, product="ROAM_7D")
    (record,) = attribute_conversion(event, [campaign], [_exposure(group=Group.HOLDOUT)])
    assert record.group is Group.HOLDOUT


def test_conversion_campaigns_are_indexed_by_their_conversion_event():
    with_rule, without = a_campaign(conversion=ROAM), a_campaign(id="no-rule")
    assert conversion_campaigns([with_rule, without]) == {"order.completed": [with_rule]}


def _accepted(days_ago: float, campaign_id="app-login-offer", kind=ResponseKind.RESPONSE):
    return ResponseRecord(customer_id="8613800000001", campaign_id=campaign_id, kind=kind, group=Group.TREATED,
                          at=NOW - timedelta(days=days_ago), event_id=f"r-{days_ago}", channel="sms")


def test_an_opt_out_within_7_days_of_an_accepted_offer_is_an_unsubscribe_of_that_campaign():
    event = an_event("sms.opt_out", occurred_at=NOW, keyword="TD")
    history = [_accepted(2), _accepted(9, campaign_id="too-old"), _accepted(1, "declined-one", ResponseKind.DECLINED)]
    records = attribute_unsubscribe(event, history)
    assert [(r.campaign_id, r.kind, r.detail) for r in records] == [("app-login-offer", ResponseKind.UNSUBSCRIBE,
                                                                     "sms.opt_out")]
    assert attribute_unsubscribe(an_event("app.login", occurred_at=NOW), history) == []


@pytest.mark.parametrize("text, intent", [("TD", "opt_out"), (" td\n", "opt_out"), ("Stop", "opt_out"),
                                          ("退订", "opt_out"), ("y7", "reply"), ("TD please", "reply")])
def test_reply_keywords_are_trimmed_and_case_insensitive(text, intent):
    assert reply_intent(text)[0] == intent


CONVERTING_SAMPLES = [c for c in (load_campaign_file(p, CATALOG).campaign for p in sorted((EVENTS / "campaigns").glob("*.yaml")))
                      if c is not None and c.conversion is not None]


@pytest.mark.parametrize("campaign", CONVERTING_SAMPLES, ids=lambda c: c.id)
def test_the_demo_s_conversion_of_each_sample_is_accepted_by_the_catalog_and_counted(campaign):
    raw = conversion_event(campaign, CATALOG, "8613800000001", 1, NOW, random.Random(1))
    event = CATALOG.parse(raw, NOW)  # raises Rejected (a dead letter in the demo) when the catalog refuses it
    assert converted(event, [campaign]) == [campaign]
