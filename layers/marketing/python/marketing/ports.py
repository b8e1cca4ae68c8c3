"""The small interfaces the use cases talk through. One AWS adapter and one in-memory fake each.

A port says what the product needs (get profiles, reserve a contact), never how AWS does it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable, Protocol, Sequence

from marketing.domain.campaigns import Campaign
from marketing.domain.contact_policy import CapCheck
from marketing.domain.decisions import Refusal
from marketing.domain.models import Profile


class ProfileStore(Protocol):
    def get_profiles(self, customer_ids: Iterable[str]) -> dict[str, Profile]:
        """Profiles by id; unknown ids are absent. Batched: one read per 100 distinct ids."""

    def put_profiles(self, profiles: Sequence[Profile]) -> None: ...


class CampaignStore(Protocol):
    def live_campaigns(self) -> list[Campaign]:
        """Every campaign whose status is active (the schedule is checked by the index)."""

    def get_campaign(self, campaign_id: str) -> Campaign | None: ...

    def put_campaign(self, campaign: Campaign, status: str = "active") -> None: ...


@dataclass(frozen=True)
class ContactRequest:
    """One contact to count, with every limit it must fit in (all checked and counted atomically)."""

    customer_id: str
    campaign_id: str
    event_id: str
    per_customer: int | None
    cooldown_s: float | None
    now: datetime
    caps: tuple[CapCheck, ...] = ()   # the customer's day/week/month caps, all channels and this channel
    daily_cap: int | None = None      # the campaign's contacts per day
    campaign_day: str = ""            # the campaign's counting day for daily_cap
    budget: float | None = None       # the campaign's budget
    cost: float = 0.0                 # what this contact spends of it (the offer's value)
    check_complaint: bool = False     # refuse while a complaint suppresses the customer


class ContactLedger(Protocol):
    def reserve(self, request: ContactRequest) -> Refusal | None:
        """Atomically take one contact for (customer, campaign) or say which limit refuses it.

        It counts every call: a re-delivered event must not reach it twice (decide reserves inside
        its idempotency on event_id)."""

    def record_delivery(self, customer_id: str, campaign_id: str, event_id: str, channel: str, at: datetime) -> bool:
        """Record a contact as delivered; False if this event's contact was already recorded."""

    def record_complaint(self, customer_id: str, until: datetime) -> None:
        """Suppress marketing to the customer until `until` (a complaint was made)."""


class RecordStream(Protocol):
    def put(self, records: Sequence[tuple[str, bytes]]) -> list[int]:
        """Put (partition key, data) records; returns the indexes that failed (to retry)."""


class Outbox(Protocol):
    def send(self, messages: Sequence[dict[str, Any]], delay_seconds: int = 0) -> list[int]:
        """Send JSON messages (visible after `delay_seconds`); returns the indexes that failed."""


class DecisionSink(Protocol):
    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        """Append decision records (raises if they cannot be stored)."""


class DecisionLog(Protocol):
    def read(self) -> Iterable[dict[str, Any]]:
        """Every stored decision row (in no particular order; `decisions.current_records` picks the verdict that stands)."""


class SmsSender(Protocol):
    def send_sms(self, msisdn: str, text: str, sender_id: str | None = None) -> str:
        """Send one SMS; returns the provider's message id. Raises DeliveryError."""


class EmailSender(Protocol):
    def send_email(self, to: str, subject: str, text: str, html: str | None) -> str: ...


class DeliveryError(Exception):
    def __init__(self, message: str, permanent: bool):
        super().__init__(message)
        self.permanent = permanent


Once = Callable[[dict[str, Any], Callable[[dict[str, Any]], dict[str, Any]]], dict[str, Any]]
"""once(payload, work): run work(payload) at most once per payload['event_id']; replays get the first result."""


# ---------------------------------------------------------------- inbound touchpoints and responses
# (marketing.domain.touchpoints / marketing.domain.responses; adapters in marketing.adapters.aws_responses)

class SessionStore(Protocol):
    def sessions_of(self, customer_ids: Iterable[str]) -> dict[str, dict[str, datetime]]:
        """Each known customer's sessions: touchpoint → open until (expired ones included). Batched."""

    def save_sessions(self, sessions: dict[str, dict[str, datetime]]) -> None:
        """Replace these customers' sessions (the caller read them first: one writer per customer). Batched."""


class OfferBoard(Protocol):
    """The offers waiting at inbound touchpoints (the offers table)."""

    def put_offer(self, offer: dict[str, Any]) -> bool:
        """Store an offer for its touchpoint; False if this event's offer is already there."""

    def open_offers(self, customer_id: str, touchpoint: str) -> list[dict[str, Any]]:
        """The customer's offers at a touchpoint (every status; the caller picks)."""

    def move(self, customer_id: str, sk: str, to: str, allowed_from: Sequence[str], at: datetime) -> bool:
        """Change an offer's status if it is one of `allowed_from` (atomically); False if not."""


class ResponseStore(Protocol):
    def add(self, records: Sequence[Any]) -> int:
        """Store response records (idempotent per record key); returns how many were new."""

    def remove(self, record: Any) -> None:
        """Take back a record whose side effect failed (so a retry does it again)."""

    def for_customer(self, customer_id: str) -> list[Any]: ...

    def for_campaign(self, campaign_id: str) -> list[Any]: ...


class Exposures(Protocol):
    def record_holdouts(self, holdouts: Sequence[tuple[str, str, str, datetime]]) -> None:
        """Holdout decisions (customer, campaign, event, at), kept where attribution finds them by
        customer (they are never delivered). Batched."""

    def exposures(self, customer_id: str) -> list[Any]:
        """The customer's contacts and holdout decisions (marketing.domain.responses.Exposure)."""


class Subscribers(Protocol):
    def customer_by_msisdn(self, msisdn: str) -> str | None: ...

    def opt_out(self, customer_id: str, channel: str, at: datetime) -> bool:
        """Withdraw the customer's consent to a channel now; False if the customer is unknown."""
