"""Deliver: offers from the delivery queue → rendered template → SMS (SNS) or email (SES) → contact recorded.

Idempotent on event_id: a message delivered twice (SQS is at-least-once, decide may resend) sends
once. A missing template field or a permanent provider refusal is that message's `failed` decision
record, never a crash; a transient error fails the message so SQS retries it, then its DLQ.
"""
from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any, Callable

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from marketing.app.batch import SQS, BatchOutcome, process
from marketing.domain.campaigns import Campaign, EmailTemplate, SmsTemplate
from marketing.app.inbound import present
from marketing.domain.models import INBOUND, Channel, Outcome, Reason
from marketing.domain.templates import MissingField, render
from marketing.ports import (CampaignStore, ContactLedger, DecisionSink, DeliveryError, EmailSender, OfferBoard, Once,
                             Outbox, SmsSender)


MAX_DELAY_S = 900  # SQS's longest message delay


class Deliver:
    def __init__(self, campaigns: CampaignStore, ledger: ContactLedger, sms: SmsSender, email: EmailSender,
                 decisions: DecisionSink, once: Once, clock: Callable[[], datetime], later: Outbox,
                 cache_seconds: float = 30.0, offer_board: OfferBoard | None = None):
        self._offer_board = offer_board  # inbound touchpoints: the offer waits there, nothing is sent
        self._campaigns, self._ledger, self._sms, self._email = campaigns, ledger, sms, email
        self._decisions, self._once, self._clock = decisions, once, clock
        self._cache_seconds = cache_seconds
        self._later = later
        self._cache: dict[str, tuple[float, Campaign | None]] = {}

    def run(self, records: list[dict[str, Any]]) -> BatchOutcome:
        outcome = BatchOutcome()
        rows: list[dict[str, Any]] = []  # delivery's verdicts: failures, and deferred contacts now sent

        def handle(record: SQSRecord) -> None:
            offer = json.loads(record.body)
            wait = self._wait(offer)
            if wait > 0:  # deferred past quiet hours: back on the queue until then (SQS delays by ≤ 15 min)
                if self._later.send([offer], delay_seconds=min(int(wait) + 1, MAX_DELAY_S)):
                    raise RuntimeError(f"could not hold offer {offer['event_id']} for later")
                outcome.count("delivery.held")
                return
            result = self._once(offer, self._deliver)
            outcome.count(f"delivery.{result['status']}")
            if result["status"] == Outcome.FAILED.value:
                rows.append(self._row(offer, Outcome.FAILED, result["reason"], result["detail"]))
            elif offer.get("not_before"):  # the deferred decision now stands as sent
                rows.append(self._row(offer, Outcome.SENT, None, f"held until {offer['not_before']}"))

        outcome.failures += process(records, SQS, handle)
        if rows:
            self._decisions.write(rows)
        return outcome

    def _wait(self, offer: dict[str, Any]) -> float:
        not_before = offer.get("not_before")
        if not not_before:
            return 0.0
        return (datetime.fromisoformat(not_before) - self._clock()).total_seconds()

    def _campaign(self, campaign_id: str) -> Campaign | None:
        """Templates are read through a short cache (as decide reads campaigns): edits show within a minute."""
        now = time.monotonic()
        cached = self._cache.get(campaign_id)
        if cached is None or now - cached[0] > self._cache_seconds:
            cached = (now, self._campaigns.get_campaign(campaign_id))
            self._cache[campaign_id] = cached
        return cached[1]

    def _deliver(self, offer: dict[str, Any]) -> dict[str, Any]:
        campaign = self._campaign(offer["campaign_id"])
        channel = Channel(offer["channel"])
        if channel in INBOUND and campaign is not None and self._offer_board is not None:
            return present(self._offer_board, self._ledger, offer, campaign, channel, self._clock())
        spec = campaign.channel_spec(channel) if campaign else None
        if spec is None:
            return {"status": Outcome.FAILED.value, "reason": Reason.TEMPLATE.value,
                    "detail": f"campaign {offer['campaign_id']} has no {channel.value} template"}
        contact = offer.get("contact") or {}
        values = {**contact, "offer_code": campaign.offer.code, "offer_value": f"{campaign.offer.value:g}",
                  "reply_code": campaign.offer.reply_code}
        template = spec.template
        try:
            if isinstance(template, SmsTemplate):
                message_id = self._sms.send_sms(contact.get("msisdn") or "", render(template.text, values))
            elif isinstance(template, EmailTemplate):
                message_id = self._email.send_email(
                    contact.get("email") or "", render(template.subject, values), render(template.text, values),
                    render(template.html, values) if template.html else None,
                )
            else:
                return {"status": Outcome.FAILED.value, "reason": Reason.PROVIDER.value,
                        "detail": f"channel {channel.value} is not enabled for delivery"}
        except MissingField as missing:
            return {"status": Outcome.FAILED.value, "reason": Reason.TEMPLATE.value, "detail": str(missing)}
        except DeliveryError as error:
            if not error.permanent:
                raise  # SQS redelivers; after maxReceiveCount the message lands in the delivery DLQ
            return {"status": Outcome.FAILED.value, "reason": Reason.PROVIDER.value, "detail": str(error)}
        self._ledger.record_delivery(offer["customer_id"], offer["campaign_id"], offer["event_id"],
                                     channel.value, self._clock())
        return {"status": Outcome.SENT.value, "message_id": message_id}

    def _row(self, offer: dict[str, Any], outcome: Outcome, reason: str | None, detail: str | None) -> dict[str, Any]:
        """Delivery's own verdict on a decision (it supersedes decide's by decided_at)."""
        return {
            "decision_id": offer["decision_id"], "event_id": offer["event_id"], "customer_id": offer["customer_id"],
            "campaign_id": offer["campaign_id"], "outcome": outcome.value, "reason": reason,
            "channel": offer["channel"], "decided_at": self._clock().isoformat(), "latency_ms": 0.0,
            "detail": detail,
        }
