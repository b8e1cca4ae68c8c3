"""Two-way SMS: inbound replies (as AWS End User Messaging / Pinpoint publishes them to an SNS topic)
become orders or opt-outs.

A reply with a campaign's reply code → the customer's latest contact of such a campaign → an
`order.requested` event on customer-events and a `response` record. TD / STOP / 退订 (trimmed,
any case) withdraws SMS consent at once, and an `sms.opt_out` event goes on the stream (attribution
counts it as an unsubscribe when it follows an accepted offer within 7 days). Idempotent on the
inbound message id: a re-delivered SNS message publishes the same event ids and adds no record.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, Field

from marketing.app.campaign_cache import CampaignCache
from marketing.app.inbound import order_requested
from marketing.domain.models import Channel
from marketing.domain.responses import OPT_OUT_KEYWORDS, Group, ResponseKind, ResponseRecord, reply_intent
from marketing.ports import Exposures, RecordStream, ResponseStore, Subscribers


class InboundSms(BaseModel):
    """The two-way SMS message End User Messaging publishes to the inbound topic."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    origination_number: str = Field(alias="originationNumber", min_length=1)
    destination_number: str | None = Field(default=None, alias="destinationNumber")
    message_keyword: str | None = Field(default=None, alias="messageKeyword")
    message_body: str = Field(alias="messageBody")
    inbound_message_id: str = Field(alias="inboundMessageId", min_length=1)
    previous_published_message_id: str | None = Field(default=None, alias="previousPublishedMessageId")


class SmsReplies:
    def __init__(self, campaigns: CampaignCache, subscribers: Subscribers, exposures: Exposures,
                 responses: ResponseStore, events: RecordStream, clock: Callable[[], datetime],
                 opt_out_keywords: frozenset[str] = OPT_OUT_KEYWORDS):
        self._campaigns, self._subscribers, self._exposures = campaigns, subscribers, exposures
        self._responses, self._events, self._clock = responses, events, clock
        self._keywords = opt_out_keywords

    def _publish(self, customer_id: str, event: dict[str, Any]) -> None:
        if self._events.put([(customer_id, json.dumps(event, ensure_ascii=False).encode())]):
            raise RuntimeError(f"{event['event_type']} {event['event_id']} not accepted by the stream")

    def handle(self, sms: InboundSms) -> str:
        now = self._clock()
        customer_id = self._subscribers.customer_by_msisdn(sms.origination_number)
        if customer_id is None:
            return "unknown_sender"
        intent, keyword = reply_intent(sms.message_body, self._keywords)
        event_id = f"sms-{sms.inbound_message_id}"
        if intent == "opt_out":
            self._subscribers.opt_out(customer_id, Channel.SMS.value, now)
            self._publish(customer_id, {
                "event_id": event_id, "event_type": "sms.opt_out", "customer_id": customer_id,
                "occurred_at": now.isoformat(), "source": "sms_gateway", "touchpoint": "sms",
                "attributes": {"keyword": keyword}})
            return "opt_out"
        by_code = {c.id: c for c in self._campaigns.live() if (c.offer.reply_code or "").upper() == keyword}
        if not by_code:
            return "unknown_code"
        contacted = [e for e in self._exposures.exposures(customer_id)
                     if e.campaign_id in by_code and e.group is Group.TREATED]
        if not contacted:
            return "no_contact"
        contact = max(contacted, key=lambda e: e.at)
        campaign = by_code[contact.campaign_id]
        record = ResponseRecord(
            customer_id=customer_id, campaign_id=campaign.id, kind=ResponseKind.RESPONSE, group=Group.TREATED,
            at=now, event_id=event_id, channel=contact.channel or Channel.SMS.value, contact_event_id=contact.event_id,
            detail=keyword)
        if not self._responses.add([record]):
            return "duplicate"  # this inbound message was handled already: its order went out then
        try:
            self._publish(customer_id, order_requested(customer_id, campaign.offer.code, campaign.offer.reply_code,
                                                       Channel.SMS.value, event_id, now))
        except Exception:
            self._responses.remove(record)  # so the retry requests the order
            raise
        return "response"
