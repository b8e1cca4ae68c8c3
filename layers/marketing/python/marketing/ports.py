"""The small interfaces the use cases talk through. One AWS adapter and one in-memory fake each.

A port says what the product needs (get profiles, reserve a contact), never how AWS does it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable, Protocol, Sequence

from marketing.domain.campaigns import Campaign
from marketing.domain.channels import ChannelHistory
from marketing.domain.messages import Push
from marketing.domain.contact_limits import ContactRequest  # noqa: F401 - the ledger's request, with the port
from marketing.domain.decisions import Refusal
from marketing.domain.models import Profile


class ProfileStore(Protocol):
    def get_profiles(self, customer_ids: Iterable[str]) -> dict[str, Profile]:
        """Profiles by id; unknown ids are absent. Batched: one read per 100 distinct ids."""

    def put_profiles(self, profiles: Sequence[Profile]) -> None: ...

    def update_profiles(self, changes: Sequence[tuple[Profile | None, Profile]]) -> set[str]:
        """Each (as read, as updated) written only if the stored profile is still as read (None: absent);
        returns the customers whose profile changed meanwhile (nothing written for them)."""
        ...

    def merge_profiles(self, incoming: Sequence[Profile],
                       merge: Callable[[Profile | None, Profile], Profile]) -> None:
        """Each incoming profile merged into the stored one by `merge` and written only if the stored
        one did not change meanwhile (else re-read and merged again): a bulk import never replaces
        what a reply or an event wrote."""


class CampaignStore(Protocol):
    def live_campaigns(self) -> list[Campaign]:
        """Every campaign whose status is active (the schedule is checked by the index)."""

    def get_campaign(self, campaign_id: str) -> Campaign | None: ...

    def put_campaign(self, campaign: Campaign, status: str = "active") -> None: ...


@dataclass(frozen=True)
class EventMark:
    """Written with an event's reservation, in the same atomic step: the event (per customer) took
    its contact, and `commitment` is what was decided. A retry of the event finds it and replays it."""

    event_id: str
    digest: str                   # the event's content: another event under the same id differs
    commitment: dict[str, Any]


class AlreadyReserved(Exception):
    """This customer's event reserved its contact before (a retry): `mark` is what it committed to."""

    def __init__(self, mark: EventMark):
        super().__init__(f"event {mark.event_id!r} reserved its contact already")
        self.mark = mark


class ContactLedger(Protocol):
    def reserve(self, request: ContactRequest, mark: EventMark | None = None) -> Refusal | None:
        """Atomically take one contact for (customer, campaign) or say which limit refuses it: every
        per-customer and per-campaign limit checked and counted together, or none.

        With `mark`, the mark is written in the same step, and an event that reserved before raises
        AlreadyReserved (nothing is counted again). Without it, every call counts."""

    def begin_send(self, customer_id: str, campaign_id: str, event_id: str, channel: str, at: datetime) -> str | None:
        """Record the intent to send this event's contact, atomically, before the provider is called.

        None when the intent is recorded now (send); otherwise the state of the one already there:
        "sent" (recorded as delivered) or "sending" (an earlier attempt may have reached the
        provider: the outcome is unknown, so never send again)."""

    def release_send(self, customer_id: str, event_id: str) -> None:
        """Drop an intent still "sending": the provider refused, nothing went out, a retry may send."""

    def record_delivery(self, customer_id: str, campaign_id: str, event_id: str, channel: str, at: datetime) -> bool:
        """Record a contact as delivered (completing its intent, if any) and count it, in one step;
        False if this event's contact was already recorded."""

    def record_complaint(self, customer_id: str, until: datetime, channel: str | None = None) -> None:
        """Suppress marketing to the customer until `until` (a complaint was made). With `channel`,
        the complaint was about that channel: the preference model never prefers it again."""

    def record_response(self, customer_id: str, campaign_id: str, channel: str, at: datetime) -> None:
        """The customer responded (a reply, an accepted offer) to a contact of `campaign_id` made on
        `channel`: counted for the channel preference model."""

    def complaint_until(self, customer_id: str) -> datetime | None:
        """Until when a complaint suppresses marketing to the customer (None: no complaint on record)."""

    def channel_history(self, customer_id: str) -> ChannelHistory:
        """Per channel: delivered contacts, responses, and whether the customer complained about it."""


class RecordStream(Protocol):
    def put(self, records: Sequence[tuple[str, bytes]]) -> list[int]:
        """Put (partition key, data) records; returns the indexes that failed (to retry)."""


MAX_DELAY_S = 900  # the longest an Outbox can hold a message back (SQS's longest message delay)


class Outbox(Protocol):
    def send(self, messages: Sequence[dict[str, Any]], delay_seconds: int = 0) -> list[int]:
        """Send JSON messages (visible after `delay_seconds` ≤ MAX_DELAY_S); returns the indexes that failed."""


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
    def send_email(self, to: str, subject: str, text: str, html: str | None,
                   headers: dict[str, str] | None = None) -> str:
        """Send one email (text and HTML alternatives, extra headers such as List-Unsubscribe)."""


class PushSender(Protocol):
    def send_push(self, target: str, message: Push) -> str:
        """Send one app push to a device target (an SNS platform endpoint ARN). Raises DeliveryError."""


class SendPacer(Protocol):
    def take(self, key: str, limit: int, window: int) -> bool:
        """Take one of `limit` send slots of `key` in time window number `window`; False when that
        window's slots are all taken. Atomic across every concurrent caller."""


class PolicyStore(Protocol):
    def get_policy(self) -> dict[str, Any] | None:
        """The operator's contact policy document (as pushed), or None when none is stored."""

    def put_policy(self, document: dict[str, Any], by: str) -> int:
        """Store the policy document; returns its new version."""


class DeliveryError(Exception):
    def __init__(self, message: str, permanent: bool):
        super().__init__(message)
        self.permanent = permanent


Once = Callable[[dict[str, Any], Callable[[dict[str, Any]], dict[str, Any]]], dict[str, Any]]
"""once(payload, work): run work(payload) at most once per (payload['customer_id'], payload['event_id']);
replays get the first result."""


class IdConflict(Exception):
    """A customer's event_id came again with a different event: not a replay (SPEC 4.1)."""


# ---------------------------------------------------------------- campaign lifecycle (Step Functions)

class AuditTrail(Protocol):
    """Per campaign: the approval request (status, submitter, approvers, task token, estimate) and the
    audit records of every transition (who, when, action, comment)."""

    def open_request(self, item: dict[str, Any]) -> None:
        """Store a new pending request; raises RequestConflict while another one is pending."""

    def get_request(self, campaign_id: str) -> dict[str, Any] | None: ...

    def add_approver(self, campaign_id: str, by: str) -> dict[str, Any]:
        """Add one distinct approver to a pending request (atomically); returns the request after it.
        Raises RequestConflict when it is no longer pending or `by` already approved."""

    def set_status(self, campaign_id: str, status: str, expected: tuple[str, ...] | None = None,
                   **fields: Any) -> bool:
        """Set the request's status (only from one of `expected` when given); False when refused."""

    def append(self, campaign_id: str, record: dict[str, Any]) -> None: ...

    def trail(self, campaign_id: str) -> list[dict[str, Any]]:
        """The audit records, oldest first."""


class RequestConflict(Exception):
    pass


class TaskCallback(Protocol):
    """Resumes a workflow waiting on a task token."""

    def succeed(self, token: str, output: dict[str, Any]) -> None:
        """Raises TokenExpired when the task is no longer waiting (timed out, already answered)."""

    def fail(self, token: str, error: str, cause: str) -> None: ...


class TokenExpired(Exception):
    pass


class Notifier(Protocol):
    def publish(self, subject: str, message: str, attributes: dict[str, str] | None = None) -> str: ...


class ReportStore(Protocol):
    def put(self, key: str, body: str, content_type: str) -> str:
        """Store one report file; returns where (s3://bucket/key)."""

    def get(self, key: str) -> str | None: ...


class EventHistory(Protocol):
    def recent(self, limit: int) -> Iterable[dict[str, Any]]:
        """Up to `limit` recently published raw events (SPEC 4.1 JSON), oldest first."""


class CampaignRecords(Protocol):
    def read(self, campaign_id: str) -> Iterable[dict[str, Any]]:
        """Every row about the campaign: decision records (with `outcome`) and contact/response/
        conversion/unsubscribe rows (with `kind`), as domain.evaluation.evaluate_campaign reads them."""

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

    def opt_out(self, customer_id: str, channel: str, at: datetime, source: Any = "reply_keyword") -> bool:
        """Withdraw the customer's consent to a channel now, recorded as the customer's change by
        `source` (a ConsentSource); False if the customer is unknown."""
