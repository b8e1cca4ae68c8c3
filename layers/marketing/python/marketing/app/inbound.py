"""Inbound touchpoints: sessions seen on the event stream, offers routed to the touchpoint the
customer is at (instead of an outbound message), and the inbound offer API's use case.

Decide calls `InboundRouting` per event; deliver calls `present` for an inbound channel; the offer
API function calls `InboundOffers`. None of them sends an outbound message.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

from marketing.domain.campaigns import Campaign, PushTemplate, SmsTemplate
from marketing.domain.decisions import Candidate
from marketing.domain.handoff import Contact, OfferMessage
from marketing.domain.models import INBOUND, Channel, CustomerEvent
from marketing.domain.responses import Group, ResponseKind, ResponseRecord
from marketing.domain.templates import MissingField, render
from marketing.domain.touchpoints import Touchpoints, current_touchpoint
from marketing.ports import ContactLedger, OfferBoard, RecordStream, ResponseStore, SessionStore

DEFAULT_VALIDITY = timedelta(minutes=30)  # an offer routed without a known session end (a replay)


class InboundRouting:
    """Records sessions as their events pass, and sends a session customer's offer to the touchpoint."""

    def __init__(self, touchpoints: Touchpoints, sessions: SessionStore):
        self._touchpoints, self._sessions = touchpoints, sessions

    def batch(self, customer_ids: Iterable[str]) -> SessionBatch:
        return SessionBatch(self._touchpoints, self._sessions, customer_ids)


class SessionBatch:
    """The sessions of one batch's customers: read once, on first need (one BatchGetItem per 100
    customers), changed as session events pass, written once at the end (one BatchWriteItem per 25).
    Safe because one customer's records are handled in order by one invocation at a time (Kinesis
    partition key = customer_id)."""

    def __init__(self, touchpoints: Touchpoints, store: SessionStore, customer_ids: Iterable[str]):
        self._touchpoints, self._store = touchpoints, store
        self._ids = set(customer_ids)
        self._sessions: dict[str, dict[str, datetime]] | None = None
        self._changed: set[str] = set()

    def _all(self) -> dict[str, dict[str, datetime]]:
        if self._sessions is None:
            self._sessions = self._store.sessions_of(self._ids)
        return self._sessions

    def observe(self, event: CustomerEvent) -> None:
        change = self._touchpoints.session_change(event.event_type, event.occurred_at)
        if change is not None:
            touchpoint, until = change
            self._ids.add(event.customer_id)
            self._all().setdefault(event.customer_id, {})[touchpoint.value] = until
            self._changed.add(event.customer_id)

    def route(self, candidates: list[Candidate], customer_id: str, now: datetime) -> datetime | None:
        """In a session: every candidate goes to the touchpoint (counted against its caps, no quiet
        hours — the customer is here now); returns the session's end."""
        if customer_id not in self._ids:
            return None
        sessions = {Channel(k): v for k, v in self._all().get(customer_id, {}).items() if k in INBOUND}
        current = current_touchpoint(sessions, now)
        if current is None:
            return None
        touchpoint, until = current
        for candidate in candidates:
            candidate.channel = touchpoint
            candidate.not_before = None
        return until

    def flush(self) -> None:
        if self._changed:
            sessions = self._all()
            self._store.save_sessions({c: sessions[c] for c in self._changed})
            self._changed.clear()


def offer_text(campaign: Campaign, values: dict[str, Any]) -> str:
    """What the touchpoint shows: the campaign's SMS text, else its push body, else its name."""
    for spec in campaign.channels:
        template = spec.template
        try:
            if isinstance(template, SmsTemplate):
                return render(template.text, values)
            if isinstance(template, PushTemplate):
                return render(template.body, values)
        except MissingField:
            continue
    return campaign.name


def present(board: OfferBoard, ledger: ContactLedger, offer: OfferMessage, campaign: Campaign,
            channel: Channel, now: datetime, contact: Contact) -> dict[str, Any]:
    """Deliver's inbound branch: the offer waits in the offers table for its touchpoint."""
    values = {**contact.model_dump(), "offer_code": campaign.offer.code,
              "offer_value": f"{campaign.offer.value:g}", "reply_code": campaign.offer.reply_code}
    valid_until = offer.valid_until or now + DEFAULT_VALIDITY
    board.put_offer({
        "customer_id": offer.customer_id, "touchpoint": channel.value, "event_id": offer.event_id,
        "decision_id": offer.decision_id, "campaign_id": campaign.id, "priority": campaign.priority,
        "offer_code": campaign.offer.code, "offer_value": campaign.offer.value,
        "name": campaign.name, "text": offer_text(campaign, values),
        "created_at": now.isoformat(), "valid_until": valid_until.isoformat(), "status": "open",
    })
    ledger.record_delivery(offer.customer_id, campaign.id, offer.event_id, channel.value, now)
    return {"status": "sent", "message_id": f"offer#{channel.value}#{offer.event_id}"}


class NotFound(LookupError):
    pass


class Conflict(ValueError):
    pass


class InboundOffers:
    """The inbound offer API: the best current offer at a touchpoint (marks it presented), and the
    customer's answer (accept → a response record and an `order.requested` event; decline → a record)."""

    ANSWERABLE = ("open", "presented")

    def __init__(self, board: OfferBoard, responses: ResponseStore, events: RecordStream,
                 clock: Callable[[], datetime]):
        self._board, self._responses, self._events, self._clock = board, responses, events, clock

    @staticmethod
    def touchpoint(value: str) -> Channel:
        try:
            channel = Channel(value)
        except ValueError:
            channel = None
        if channel not in INBOUND:
            raise NotFound(f"unknown touchpoint {value!r} (use {', '.join(sorted(INBOUND))})")
        return channel

    def _live(self, customer_id: str, touchpoint: Channel, now: datetime) -> list[dict[str, Any]]:
        offers = [o for o in self._board.open_offers(customer_id, touchpoint.value)
                  if o.get("status") in self.ANSWERABLE and datetime.fromisoformat(o["valid_until"]) > now]
        return offers

    def current(self, customer_id: str, touchpoint_name: str) -> dict[str, Any]:
        touchpoint, now = self.touchpoint(touchpoint_name), self._clock()
        offers = self._live(customer_id, touchpoint, now)
        if not offers:
            raise NotFound(f"no current offer for customer {customer_id} at {touchpoint.value}")
        best = max(offers, key=lambda o: (int(o.get("priority", 0)), o["created_at"]))
        if best["status"] == "open" and self._board.move(customer_id, best["sk"], "presented", ("open",), now):
            self._record(best, ResponseKind.PRESENTED, f"{best['event_id']}:presented", now)
            best = {**best, "status": "presented"}
        return self._public(best)

    def answer(self, customer_id: str, touchpoint_name: str, campaign_id: str | None, accept: bool) -> dict[str, Any]:
        touchpoint, now = self.touchpoint(touchpoint_name), self._clock()
        offers = [o for o in self._live(customer_id, touchpoint, now) if campaign_id in (None, o["campaign_id"])]
        if not offers:
            raise NotFound(f"no open offer{' of ' + campaign_id if campaign_id else ''} for customer "
                           f"{customer_id} at {touchpoint.value}")
        offer = max(offers, key=lambda o: (int(o.get("priority", 0)), o["created_at"]))
        status = "accepted" if accept else "declined"
        if not self._board.move(customer_id, offer["sk"], status, self.ANSWERABLE, now):
            raise Conflict(f"offer {offer['campaign_id']} for {customer_id} was answered already")
        answer_id = f"{offer['event_id']}:{status}"
        if accept:
            order = order_requested(customer_id, offer["offer_code"], None, touchpoint.value, answer_id, now)
            if self._events.put([(customer_id, json.dumps(order, ensure_ascii=False).encode())]):
                self._board.move(customer_id, offer["sk"], offer["status"], (status,), now)  # answerable again
                raise RuntimeError(f"order.requested for {customer_id} not accepted by the stream")
        self._record(offer, ResponseKind.ACCEPTED if accept else ResponseKind.DECLINED, answer_id, now)
        return {**self._public(offer), "status": status}

    def _record(self, offer: dict[str, Any], kind: ResponseKind, event_id: str, now: datetime) -> None:
        self._responses.add([ResponseRecord(
            customer_id=offer["customer_id"], campaign_id=offer["campaign_id"], kind=kind, group=Group.TREATED,
            at=now, event_id=event_id, channel=offer["touchpoint"], contact_event_id=offer["event_id"])])

    @staticmethod
    def _public(offer: dict[str, Any]) -> dict[str, Any]:
        keys = ("customer_id", "touchpoint", "campaign_id", "offer_code", "offer_value", "name", "text",
                "status", "valid_until", "decision_id")
        return {k: offer.get(k) for k in keys}


def order_requested(customer_id: str, product: str, reply_code: str | None, channel: str, event_id: str,
                    at: datetime) -> dict[str, Any]:
    """The SPEC 4.1 event the order centre acts on (published to customer-events)."""
    attributes = {"product": product, "channel": channel}
    if reply_code:
        attributes["reply_code"] = reply_code
    return {"event_id": event_id, "event_type": "order.requested", "customer_id": customer_id,
            "occurred_at": at.isoformat(), "source": "marketing", "touchpoint": channel, "attributes": attributes}
