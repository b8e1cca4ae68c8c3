"""The replies and offer-desk use cases on the in-memory fakes: what they record and publish."""
from __future__ import annotations

import json
from datetime import timedelta

from marketing.adapters.memory import MemoryCampaignStore
from marketing.adapters.memory_responses import (MemoryExposures, MemoryOfferBoard, MemoryResponseStore,
                                                 MemorySubscribers)
from marketing.app.campaign_cache import CampaignCache
from marketing.app.inbound import InboundOffers, present
from marketing.app.sms_replies import InboundSms, SmsReplies
from marketing.domain.handoff import Contact, OfferMessage
from marketing.domain.models import Channel
from tests.unit.factories import NOW, a_campaign, a_profile


class Stream:
    def __init__(self) -> None:
        self.events: list[dict] = []

    def put(self, records):
        self.events += [json.loads(data) for _, data in records]
        return []


class Ledger:
    def __init__(self) -> None:
        self.deliveries = []

    def record_delivery(self, *args):
        self.deliveries.append(args)
        return True


def sms(body, message_id="m-1"):
    return InboundSms.model_validate({"originationNumber": "+8613800000001", "messageBody": body,
                                      "inboundMessageId": message_id})


def replies(campaign=None):
    profile = a_profile()
    subscribers = MemorySubscribers({profile.customer_id: profile})
    exposures, responses, stream = MemoryExposures(), MemoryResponseStore(), Stream()
    use_case = SmsReplies(CampaignCache(MemoryCampaignStore([campaign or a_campaign()]), ttl_seconds=30), subscribers, exposures, responses, stream,
                          lambda: NOW)
    return use_case, exposures, responses, stream, subscribers


def test_a_reply_code_after_a_contact_requests_the_order_once():
    use_case, exposures, responses, stream, _ = replies()
    exposures.record_contact("8613800000001", "app-login-offer", "evt-1", "sms", NOW - timedelta(hours=1))
    assert use_case.handle(sms(" a1 ")) == "response"
    assert use_case.handle(sms("A1")) == "duplicate"
    assert [(e["event_type"], e["attributes"]["product"]) for e in stream.events] == [("order.requested", "APP_VIP_10G")]
    assert [(r.kind.value, r.contact_event_id) for r in responses.everything()] == [("response", "evt-1")]


def test_a_reply_code_without_a_contact_or_unknown_is_not_a_response():
    use_case, exposures, responses, stream, _ = replies()
    assert use_case.handle(sms("A1")) == "no_contact"
    exposures.record_holdout("8613800000001", "app-login-offer", "evt-1", NOW)
    assert use_case.handle(sms("A1", "m-2")) == "no_contact"   # a holdout customer was never offered it
    assert use_case.handle(sms("ZZ", "m-3")) == "unknown_code"
    assert stream.events == [] and responses.everything() == []


def test_td_withdraws_sms_consent_and_publishes_the_opt_out():
    use_case, _, _, stream, subscribers = replies()
    assert use_case.handle(sms("td")) == "opt_out"
    assert subscribers.profiles["8613800000001"].consents.sms is False
    assert [(e["event_type"], e["attributes"]["keyword"]) for e in stream.events] == [("sms.opt_out", "TD")]


def test_the_desk_presents_the_best_offer_once_and_takes_one_answer():
    board, responses, stream = MemoryOfferBoard(), MemoryResponseStore(), Stream()
    low, high = a_campaign(id="low", priority=10), a_campaign(id="high", priority=90)
    for event_id, campaign in (("e-low", low), ("e-high", high)):
        offer = OfferMessage(customer_id="c1", event_id=event_id, decision_id=f"{event_id}:x", campaign_id=campaign.id,
                             channel=Channel.STORE, decided_at=NOW, valid_until=NOW + timedelta(minutes=10))
        present(board, Ledger(), offer, campaign, Channel.STORE, NOW, Contact(name="李雷"))
    desk = InboundOffers(board, responses, stream, lambda: NOW)
    assert desk.current("c1", "store")["campaign_id"] == "high"
    assert desk.current("c1", "store")["status"] == "presented"
    assert desk.answer("c1", "store", None, accept=True)["campaign_id"] == "high"
    assert desk.current("c1", "store")["campaign_id"] == "low"
    kinds = sorted((r.campaign_id, r.kind.value) for r in responses.everything())
    assert kinds == [("high", "accepted"), ("high", "presented"), ("low", "presented")]
    assert [e["attributes"]["channel"] for e in stream.events] == ["store"]
