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

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Sequence

from marketing.app.batch import BatchOutcome
from marketing.app.campaign_cache import CampaignCache
from marketing.app.inbound import present
from marketing.app.pacing import Paced, Pacing, Unpaced
from marketing.domain import messages, unsubscribe
from marketing.domain.campaigns import Campaign, EmailTemplate, PushTemplate, SmsTemplate
from marketing.domain.contact_policy import ContactPolicy, quiet_until, release_refusal
from marketing.domain.handoff import Contact, OfferMessage
from marketing.domain.messages import Push
from marketing.domain.models import INBOUND, Channel, Outcome, Profile, Reason
from marketing.domain.templates import MissingField
from marketing.ports import (
    MAX_DELAY_S,
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

# A contact whose intent was recorded by an attempt that never recorded its outcome (it died or lost
# the answer after calling the provider): counted as sent, never sent again; the decision record's detail.
SENT_UNCONFIRMED = "sent_unconfirmed"


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


class PushDisabled:
    """The push sender when app push is not a delivery channel: every push is a permanent failure."""

    def send_push(self, target: str, message: Push) -> str:
        raise DeliveryError("app push is not enabled for delivery", permanent=True)


class Deliver:
    def __init__(self, campaigns: CampaignCache, ledger: ContactLedger, sms: SmsSender, email: EmailSender,
                 decisions: DecisionSink, once: Once, clock: Callable[[], datetime], later: Outbox, *,
                 push: PushSender, profiles: ProfileStore, policy: Callable[[], ContactPolicy],
                 pacing: Pacing | Unpaced, links: UnsubscribeLinks, offer_board: OfferBoard,
                 senders: dict[Channel, str] | None = None, retry: Retry = Retry(),
                 sleep: Callable[[float], None] = time.sleep):
        self._offer_board = offer_board  # inbound touchpoints: the offer waits there, nothing is sent
        self._campaigns, self._ledger, self._sms, self._email, self._push = campaigns, ledger, sms, email, push
        self._decisions, self._once, self._clock = decisions, once, clock
        self._later = later
        self._profiles, self._policy, self._pacing = profiles, policy, pacing
        self._sender_names = senders or {}   # channel → the sender whose rate applies (e.g. sms: long_code)
        self._links = links
        self._retry, self._sleep = retry, sleep
        self._senders: dict[Channel, Callable[[Campaign, Any, OfferMessage, dict[str, Any]], str]] = {
            Channel.SMS: self._send_sms,
            Channel.EMAIL: self._send_email,
            Channel.APP_PUSH: self._send_push,
        }

    def batch(self, offers: Sequence[OfferMessage]) -> DeliverBatch:
        return DeliverBatch(self, self._policy(), self._profiles_of(offers))

    # ---------------------------------------------------------------- holding and re-checking

    def _wait(self, offer: OfferMessage, policy: ContactPolicy, profile: Profile | None) -> tuple[float, OfferMessage]:
        """How long the offer must still be held, and the offer to hold (its `not_before` moved if
        the policy in force now still calls it quiet)."""
        if offer.not_before is None:
            return 0.0, offer
        now = self._clock()
        wait = (offer.not_before - now).total_seconds()
        if wait <= 0:  # released: the policy in force now may still call it quiet (hours changed meanwhile)
            contact = _contact(offer, profile)
            until = quiet_until(policy, now, (contact.timezone if contact else None) or "UTC")
            if until is not None:
                offer = offer.model_copy(update={"not_before": until})
                wait = (until - now).total_seconds()
        return wait, offer

    def _profiles_of(self, offers: Sequence[OfferMessage]) -> dict[str, Profile]:
        """The profiles of the batch's customers (one batched read): where to send and how to address
        them, and whether a held contact may still go (the customer may have opted out since)."""
        ids = {o.customer_id for o in offers}
        return self._profiles.get_profiles(ids) if ids else {}

    # ---------------------------------------------------------------- sending

    def _deliver(self, offer: OfferMessage, policy: ContactPolicy, profiles: dict[str, Profile]) -> dict[str, Any]:
        campaign = self._campaigns.campaign(offer.campaign_id)
        channel = offer.channel
        profile = profiles.get(offer.customer_id)
        contact = _contact(offer, profile)
        if channel in INBOUND and campaign is not None:
            return present(self._offer_board, self._ledger, offer, campaign, channel, self._clock(),
                           contact or Contact())
        if contact is None:
            return {"status": Outcome.SUPPRESSED.value, "reason": Reason.NO_CHANNEL.value,
                    "detail": "the customer's profile no longer exists"}
        if offer.not_before is not None:  # held: the customer may have opted out since
            now = self._clock()
            complaint = (self._ledger.complaint_until(offer.customer_id)
                         if profile is not None and policy.complaint_suppression_days else None)
            refusal = release_refusal(profile, channel, policy, now, complaint)
            if refusal is not None:
                outcome, reason, detail = refusal
                return {"status": outcome.value, "reason": reason.value, "detail": detail}
        spec = campaign.channel_spec(channel) if campaign else None
        send = self._senders.get(channel)
        if spec is None or send is None:
            return {"status": Outcome.FAILED.value, "reason": Reason.TEMPLATE.value,
                    "detail": f"campaign {offer.campaign_id} has no {channel.value} template"}
        values = {**contact.model_dump(), "offer_code": campaign.offer.code, "offer_value": f"{campaign.offer.value:g}",
                  "reply_code": campaign.offer.reply_code}
        ids = (offer.customer_id, offer.campaign_id, offer.event_id, channel.value)
        prior = self._ledger.begin_send(*ids, self._clock())  # the intent, recorded before the provider call
        if prior is not None:  # an earlier attempt got this far: it may have sent, so never send again
            self._ledger.record_delivery(*ids, self._clock())  # the contact follows from the intent
            return {"status": Outcome.SENT.value, "message_id": None,
                    "detail": SENT_UNCONFIRMED if prior == "sending" else None}
        try:
            message_id = send(campaign, spec.template, offer, values)
        except Paced:  # not sent: waits on the queue
            self._ledger.release_send(offer.customer_id, offer.event_id)
            raise
        except MissingField as missing:
            self._ledger.release_send(offer.customer_id, offer.event_id)
            return {"status": Outcome.FAILED.value, "reason": Reason.TEMPLATE.value, "detail": str(missing)}
        except DeliveryError as error:  # the provider refused: nothing went out, a retry may send
            self._ledger.release_send(offer.customer_id, offer.event_id)
            if not error.permanent:
                raise  # SQS redelivers; after maxReceiveCount the message lands in the delivery DLQ
            return {"status": Outcome.FAILED.value, "reason": Reason.PROVIDER.value, "detail": str(error)}
        self._ledger.record_delivery(*ids, self._clock())
        return {"status": Outcome.SENT.value, "message_id": message_id}

    def _provider(self, channel: Channel, call: Callable[[], str]) -> str:
        """One send within the channel's rate; transient errors retried with backoff, a bounded number of times."""
        sender = self._sender_names.get(channel)
        rate = self._policy().send_rate(channel, sender)
        for attempt in range(self._retry.attempts):
            self._pacing.acquire(f"{channel.value}:{sender or 'default'}", rate)
            try:
                return call()
            except DeliveryError as error:
                if error.permanent or attempt == self._retry.attempts - 1:
                    raise
                self._sleep(self._retry.backoff_s * 2 ** attempt)
        raise AssertionError("unreachable")

    def _send_sms(self, campaign: Campaign, template: SmsTemplate, offer: OfferMessage, values: dict[str, Any]) -> str:
        text = messages.sms_text(template, values)
        return self._provider(Channel.SMS, lambda: self._sms.send_sms(values.get("msisdn") or "", text))

    def _send_email(self, campaign: Campaign, template: EmailTemplate, offer: OfferMessage, values: dict[str, Any]) -> str:
        mail = messages.email(template, values, self._links.url(offer.customer_id, campaign.id), self._links.mailto)
        return self._provider(Channel.EMAIL, lambda: self._email.send_email(
            values.get("email") or "", mail.subject, mail.text, mail.html, mail.headers))

    def _send_push(self, campaign: Campaign, template: PushTemplate, offer: OfferMessage, values: dict[str, Any]) -> str:
        target = values.get("push_endpoint")
        if not target:
            raise DeliveryError("the customer has no registered app (push_endpoint)", permanent=True)
        push = messages.push(template, values, {"campaign_id": campaign.id, "offer_code": campaign.offer.code,
                                                "decision_id": offer.decision_id})
        return self._provider(Channel.APP_PUSH, lambda: self._push.send_push(target, push))


def _contact(offer: OfferMessage, profile: Profile | None) -> Contact | None:
    """Where and how to reach the customer: from the profile read for the batch; from the offer only
    if it was written before offers stopped carrying contact details; None if neither has it."""
    return Contact.of(profile) if profile is not None else offer.contact


class DeliverBatch:
    """One batch: the policy read once, the released customers' profiles read once; delivery's own
    verdicts (failures, suppressions, deferred contacts now sent) written after the loop."""

    def __init__(self, deliver: Deliver, policy: ContactPolicy, profiles: dict[str, Profile]):
        self._use, self._policy, self._profiles = deliver, policy, profiles
        self.outcome = BatchOutcome()
        self._rows: list[dict[str, Any]] = []

    def handle(self, offer: OfferMessage) -> None:
        use, outcome = self._use, self.outcome
        wait, offer = use._wait(offer, self._policy, self._profiles.get(offer.customer_id))
        if wait > 0:  # deferred past quiet hours: back on the queue until then (SQS delays by ≤ 15 min)
            if use._later.send([offer.wire()], delay_seconds=min(int(wait) + 1, MAX_DELAY_S)):
                raise RuntimeError(f"could not hold offer {offer.event_id} for later")
            outcome.count("delivery.held")
            return
        try:
            result = use._once(offer.wire(), lambda _: use._deliver(offer, self._policy, self._profiles))
        except Paced as paced:  # the provider's rate is used up for now: wait on the queue
            if use._later.send([offer.wire()], delay_seconds=min(paced.delay_s, MAX_DELAY_S)):
                raise RuntimeError(f"could not re-queue offer {offer.event_id}") from paced
            outcome.count("delivery.paced")
            return
        outcome.count(f"delivery.{result['status']}")
        if result["status"] == Outcome.SENT.value:
            outcome.count(f"sent.{offer.channel.value}")
        if result["status"] != Outcome.SENT.value:  # failed, or refused when released from hold
            self._rows.append(self._row(offer, Outcome(result["status"]), result["reason"], result["detail"]))
        elif result.get("detail") == SENT_UNCONFIRMED:
            self._rows.append(self._row(offer, Outcome.SENT, None, SENT_UNCONFIRMED))
        elif offer.not_before is not None:  # the deferred decision now stands as sent
            self._rows.append(self._row(offer, Outcome.SENT, None, f"held until {offer.wire()['not_before']}"))

    def flush(self) -> list[OfferMessage]:
        if self._rows:
            self._use._decisions.write(self._rows)
        return []

    def _row(self, offer: OfferMessage, outcome: Outcome, reason: str | None, detail: str | None) -> dict[str, Any]:
        """Delivery's own verdict on a decision (it supersedes decide's by decided_at)."""
        return {
            "decision_id": offer.decision_id, "event_id": offer.event_id, "customer_id": offer.customer_id,
            "campaign_id": offer.campaign_id, "outcome": outcome.value, "reason": reason,
            "channel": offer.channel.value, "decided_at": self._use._clock().isoformat(), "latency_ms": 0.0,
            "detail": detail,
        }
