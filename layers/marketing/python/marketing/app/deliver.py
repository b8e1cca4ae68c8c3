"""Deliver: offers from the delivery queue → rendered message → SMS or push (SNS), email (SES) → contact recorded.

Idempotent on event_id: a message delivered twice (SQS is at-least-once, decide may resend) sends
once. A missing template field or a permanent provider refusal is that message's `failed` decision
record, never a crash; a transient provider error is retried with backoff inside the invocation,
then fails the message so SQS redelivers it, and after the queue's maxReceiveCount it lands in the
delivery DLQ. Sends are paced to the provider's rate (contact policy `send_rates`). A contact held
past quiet hours is re-checked against the customer's consents when released.

Each channel is one entry of `Deliver._senders` (channel → how to render and send it): a new
channel or touchpoint is one more entry, nothing else changes.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from marketing.app.batch import SQS, BatchOutcome, process
from marketing.app.inbound import present
from marketing.app.pacing import Paced, Pacing
from marketing.domain import messages, unsubscribe
from marketing.domain.campaigns import Campaign, EmailTemplate, PushTemplate, SmsTemplate
from marketing.domain.contact_policy import ContactPolicy, quiet_until, release_refusal
from marketing.domain.models import INBOUND, Channel, Outcome, Profile, Reason
from marketing.domain.templates import MissingField
from marketing.ports import (
    CampaignStore,
    ContactLedger,
    DecisionSink,
    DeliveryError,
    EmailSender,
    OfferBoard,
    Once,
    Outbox,
    ProfileStore,
    PushSender,
    SmsSender,
)

MAX_DELAY_S = 900  # SQS's longest message delay


@dataclass(frozen=True)
class Retry:
    """Transient provider errors: `attempts` tries in one invocation, backoff doubling from `backoff_s`."""

    attempts: int = 3
    backoff_s: float = 0.2


@dataclass(frozen=True)
class UnsubscribeLinks:
    """Where an email's unsubscribe link points: `base_url?t=<signed customer+campaign token>`."""

    base_url: str
    key: bytes
    mailto: str | None = None

    def url(self, customer_id: str, campaign_id: str) -> str:
        return unsubscribe.link(self.base_url, unsubscribe.token(self.key, customer_id, campaign_id))


class Deliver:
    def __init__(self, campaigns: CampaignStore, ledger: ContactLedger, sms: SmsSender, email: EmailSender,
                 decisions: DecisionSink, once: Once, clock: Callable[[], datetime], later: Outbox,
                 cache_seconds: float = 30.0, *, push: PushSender | None = None, profiles: ProfileStore | None = None,
                 policy: Callable[[], ContactPolicy] | None = None, pacing: Pacing | None = None,
                 senders: dict[Channel, str] | None = None, links: UnsubscribeLinks | None = None,
                 retry: Retry = Retry(), sleep: Callable[[float], None] = time.sleep,
                 offer_board: OfferBoard | None = None):
        self._offer_board = offer_board  # inbound touchpoints: the offer waits there, nothing is sent
        self._campaigns, self._ledger, self._sms, self._email, self._push = campaigns, ledger, sms, email, push
        self._decisions, self._once, self._clock = decisions, once, clock
        self._cache_seconds = cache_seconds
        self._later = later
        self._cache: dict[str, tuple[float, Campaign | None]] = {}
        default = ContactPolicy()
        self._profiles, self._policy, self._pacing = profiles, policy or (lambda: default), pacing
        self._sender_names = senders or {}   # channel → the sender whose rate applies (e.g. sms: long_code)
        self._links = links or UnsubscribeLinks("https://example.com/unsubscribe", b"local-only")
        self._retry, self._sleep = retry, sleep
        self._senders: dict[Channel, Callable[[Campaign, Any, dict[str, Any], dict[str, Any]], str]] = {
            Channel.SMS: self._send_sms,
            Channel.EMAIL: self._send_email,
            Channel.APP_PUSH: self._send_push,
        }

    def run(self, records: list[dict[str, Any]]) -> BatchOutcome:
        outcome = BatchOutcome()
        rows: list[dict[str, Any]] = []  # delivery's verdicts: failures, suppressions, deferred contacts now sent
        policy = self._policy()
        released = self._released_profiles(records)

        def handle(record: SQSRecord) -> None:
            offer = json.loads(record.body)
            wait = self._wait(offer, policy)
            if wait > 0:  # deferred past quiet hours: back on the queue until then (SQS delays by ≤ 15 min)
                if self._later.send([offer], delay_seconds=min(int(wait) + 1, MAX_DELAY_S)):
                    raise RuntimeError(f"could not hold offer {offer['event_id']} for later")
                outcome.count("delivery.held")
                return
            try:
                result = self._once(offer, lambda o: self._deliver(o, policy, released))
            except Paced as paced:  # the provider's rate is used up for now: wait on the queue
                if self._later.send([offer], delay_seconds=min(paced.delay_s, MAX_DELAY_S)):
                    raise RuntimeError(f"could not re-queue offer {offer['event_id']}") from paced
                outcome.count("delivery.paced")
                return
            outcome.count(f"delivery.{result['status']}")
            if result["status"] != Outcome.SENT.value:  # failed, or refused when released from hold
                rows.append(self._row(offer, Outcome(result["status"]), result["reason"], result["detail"]))
            elif offer.get("not_before"):  # the deferred decision now stands as sent
                rows.append(self._row(offer, Outcome.SENT, None, f"held until {offer['not_before']}"))

        outcome.failures += process(records, SQS, handle)
        if rows:
            self._decisions.write(rows)
        return outcome

    # ---------------------------------------------------------------- holding and re-checking

    def _wait(self, offer: dict[str, Any], policy: ContactPolicy) -> float:
        not_before = offer.get("not_before")
        if not not_before:
            return 0.0
        now = self._clock()
        wait = (datetime.fromisoformat(not_before) - now).total_seconds()
        if wait <= 0:  # released: the policy in force now may still call it quiet (hours changed meanwhile)
            until = quiet_until(policy, now, (offer.get("contact") or {}).get("timezone") or "UTC")
            if until is not None:
                offer["not_before"] = until.isoformat()
                wait = (until - now).total_seconds()
        return wait

    def _released_profiles(self, records: list[dict[str, Any]]) -> dict[str, Profile]:
        """Fresh profiles of the held contacts this batch releases (one batched read)."""
        if self._profiles is None:
            return {}
        ids = set()
        for record in records:
            try:
                offer = json.loads(record["body"])
            except (KeyError, TypeError, ValueError):
                continue  # the handler reports it as that message's failure
            if isinstance(offer, dict) and offer.get("not_before") and offer.get("customer_id"):
                ids.add(offer["customer_id"])
        return self._profiles.get_profiles(ids) if ids else {}

    # ---------------------------------------------------------------- sending

    def _campaign(self, campaign_id: str) -> Campaign | None:
        """Templates are read through a short cache (as decide reads campaigns): edits show within a minute."""
        now = time.monotonic()
        cached = self._cache.get(campaign_id)
        if cached is None or now - cached[0] > self._cache_seconds:
            cached = (now, self._campaigns.get_campaign(campaign_id))
            self._cache[campaign_id] = cached
        return cached[1]

    def _deliver(self, offer: dict[str, Any], policy: ContactPolicy, released: dict[str, Profile]) -> dict[str, Any]:
        campaign = self._campaign(offer["campaign_id"])
        channel = Channel(offer["channel"])
        if channel in INBOUND and campaign is not None and self._offer_board is not None:
            return present(self._offer_board, self._ledger, offer, campaign, channel, self._clock())
        contact = dict(offer.get("contact") or {})
        if offer.get("not_before") and self._profiles is not None:  # held: the customer may have opted out since
            profile = released.get(offer["customer_id"])
            now = self._clock()
            complaint = (self._ledger.complaint_until(offer["customer_id"])
                         if profile is not None and policy.complaint_suppression_days else None)
            refusal = release_refusal(profile, channel, policy, now, complaint)
            if refusal is not None:
                outcome, reason, detail = refusal
                return {"status": outcome.value, "reason": reason.value, "detail": detail}
            contact.update(profile.model_dump(mode="json", include={"name", "msisdn", "email", "locale", "timezone",
                                                                    "push_endpoint"}, exclude_none=True))
        spec = campaign.channel_spec(channel) if campaign else None
        send = self._senders.get(channel)
        if spec is None or send is None:
            return {"status": Outcome.FAILED.value, "reason": Reason.TEMPLATE.value,
                    "detail": f"campaign {offer['campaign_id']} has no {channel.value} template"}
        values = {**contact, "offer_code": campaign.offer.code, "offer_value": f"{campaign.offer.value:g}",
                  "reply_code": campaign.offer.reply_code}
        try:
            message_id = send(campaign, spec.template, offer, values)
        except MissingField as missing:
            return {"status": Outcome.FAILED.value, "reason": Reason.TEMPLATE.value, "detail": str(missing)}
        except DeliveryError as error:
            if not error.permanent:
                raise  # SQS redelivers; after maxReceiveCount the message lands in the delivery DLQ
            return {"status": Outcome.FAILED.value, "reason": Reason.PROVIDER.value, "detail": str(error)}
        self._ledger.record_delivery(offer["customer_id"], offer["campaign_id"], offer["event_id"],
                                     channel.value, self._clock())
        return {"status": Outcome.SENT.value, "message_id": message_id}

    def _provider(self, channel: Channel, call: Callable[[], str]) -> str:
        """One send within the channel's rate; transient errors retried with backoff, a bounded number of times."""
        sender = self._sender_names.get(channel)
        rate = self._policy().send_rate(channel, sender)
        for attempt in range(self._retry.attempts):
            if self._pacing is not None:
                self._pacing.acquire(f"{channel.value}:{sender or 'default'}", rate)
            try:
                return call()
            except DeliveryError as error:
                if error.permanent or attempt == self._retry.attempts - 1:
                    raise
                self._sleep(self._retry.backoff_s * 2 ** attempt)
        raise AssertionError("unreachable")

    def _send_sms(self, campaign: Campaign, template: SmsTemplate, offer: dict[str, Any], values: dict[str, Any]) -> str:
        text = messages.sms_text(template, values)
        return self._provider(Channel.SMS, lambda: self._sms.send_sms(values.get("msisdn") or "", text))

    def _send_email(self, campaign: Campaign, template: EmailTemplate, offer: dict[str, Any], values: dict[str, Any]) -> str:
        mail = messages.email(template, values, self._links.url(offer["customer_id"], campaign.id), self._links.mailto)
        return self._provider(Channel.EMAIL, lambda: self._email.send_email(
            values.get("email") or "", mail.subject, mail.text, mail.html, mail.headers))

    def _send_push(self, campaign: Campaign, template: PushTemplate, offer: dict[str, Any], values: dict[str, Any]) -> str:
        if self._push is None:
            raise DeliveryError("app push is not enabled for delivery", permanent=True)
        target = values.get("push_endpoint")
        if not target:
            raise DeliveryError("the customer has no registered app (push_endpoint)", permanent=True)
        push = messages.push(template, values, {"campaign_id": campaign.id, "offer_code": campaign.offer.code,
                                                "decision_id": offer["decision_id"]})
        return self._provider(Channel.APP_PUSH, lambda: self._push.send_push(target, push))

    def _row(self, offer: dict[str, Any], outcome: Outcome, reason: str | None, detail: str | None) -> dict[str, Any]:
        """Delivery's own verdict on a decision (it supersedes decide's by decided_at)."""
        return {
            "decision_id": offer["decision_id"], "event_id": offer["event_id"], "customer_id": offer["customer_id"],
            "campaign_id": offer["campaign_id"], "outcome": outcome.value, "reason": reason,
            "channel": offer["channel"], "decided_at": self._clock().isoformat(), "latency_ms": 0.0,
            "detail": detail,
        }
