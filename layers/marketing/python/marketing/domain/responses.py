"""What customers did after a decision: replies, offers presented/accepted/declined at a touchpoint,
conversions and unsubscribes — the records the evaluation workflow aggregates (lift vs holdout).

Pure: attribution takes the customer's exposures (contacts and holdout decisions) and the live
campaigns, and returns records. It never reads a table or the clock.

A `ResponseRecord` is stored in the responses table (key: customer_id + sk; index `by-campaign`:
campaign_id + at), so the evaluation reads one campaign's records with one Query.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Iterable

from pydantic import AwareDatetime, BaseModel, ConfigDict

from marketing.domain.campaigns import Campaign
from marketing.domain.conditions import EVENT, evaluate
from marketing.domain.models import CustomerEvent

UNSUBSCRIBE_WINDOW = timedelta(days=7)   # SPEC 1: "one-week unsubscribe after an accepted offer"
# Events that count as an unsubscribe: an SMS opt-out (TD/STOP/退订), a service switched off.
UNSUBSCRIBE_EVENTS = frozenset({"sms.opt_out", "service.deactivated"})


class ResponseKind(StrEnum):
    RESPONSE = "response"          # an SMS reply with the campaign's reply code (an order was requested)
    CONVERSION = "conversion"      # the campaign's conversion event within its window
    UNSUBSCRIBE = "unsubscribe"    # an opt-out / service switched off within 7 days of an accepted offer
    PRESENTED = "presented"        # the inbound offer was shown at its touchpoint
    ACCEPTED = "accepted"          # ... and accepted there (an order was requested)
    DECLINED = "declined"          # ... and declined there


class Group(StrEnum):
    TREATED = "treated"   # the customer was contacted
    HOLDOUT = "holdout"   # the customer was in the campaign's control group (decided, not contacted)


ACCEPTING = frozenset({ResponseKind.RESPONSE, ResponseKind.ACCEPTED})


class ResponseRecord(BaseModel):
    """One thing a customer did about one campaign. `event_id` is the event that showed it (the reply,
    the conversion event, the API call); `contact_event_id` the decision's event it is attributed to."""

    model_config = ConfigDict(frozen=True)

    customer_id: str
    campaign_id: str
    kind: ResponseKind
    group: Group
    at: AwareDatetime
    event_id: str
    channel: str | None = None
    contact_event_id: str | None = None
    detail: str | None = None

    @property
    def sk(self) -> str:
        """One record per (campaign, kind, event): writing it twice changes nothing."""
        return f"{self.campaign_id}#{self.kind.value}#{self.event_id}"


@dataclass(frozen=True, slots=True)
class Exposure:
    """A customer's decision that can earn a response: a contact (treated) or a holdout decision."""

    campaign_id: str
    event_id: str
    at: datetime
    group: Group
    channel: str | None = None


def conversion_campaigns(campaigns: Iterable[Campaign]) -> dict[str, list[Campaign]]:
    """Campaigns by their conversion event type (what decide checks each event against: one dict lookup)."""
    out: dict[str, list[Campaign]] = {}
    for campaign in campaigns:
        if campaign.conversion is not None:
            out.setdefault(campaign.conversion.event, []).append(campaign)
    return out


def latest_exposure(exposures: Iterable[Exposure], campaign_id: str, at: datetime, window: timedelta) -> Exposure | None:
    """The customer's latest exposure to the campaign at or before `at` and no older than `window`."""
    inside = [e for e in exposures if e.campaign_id == campaign_id and e.at <= at and at - e.at <= window]
    return max(inside, key=lambda e: e.at, default=None)


def converted(event: CustomerEvent, candidates: Iterable[Campaign]) -> list[Campaign]:
    """The campaigns whose `conversion` rule (event type and `where`) this event satisfies."""
    attributes = dict(event.attributes)
    return [c for c in candidates if c.conversion is not None and c.conversion.event == event.event_type
            and evaluate(c.conversion_rule, {EVENT: attributes}, event.occurred_at.timestamp())]


def attribute_conversion(event: CustomerEvent, candidates: Iterable[Campaign],
                         exposures: list[Exposure]) -> list[ResponseRecord]:
    """A conversion event matching a campaign's `conversion` rule within its window: one record on
    the latest contact (treated) or holdout decision (holdout) of that campaign."""
    out = []
    for campaign in converted(event, candidates):
        rule = campaign.conversion
        exposure = latest_exposure(exposures, campaign.id, event.occurred_at, rule.window)
        if exposure is not None:
            out.append(ResponseRecord(
                customer_id=event.customer_id, campaign_id=campaign.id, kind=ResponseKind.CONVERSION,
                group=exposure.group, at=event.occurred_at, event_id=event.event_id, channel=exposure.channel,
                contact_event_id=exposure.event_id))
    return out


def attribute_unsubscribe(event: CustomerEvent, history: Iterable[ResponseRecord]) -> list[ResponseRecord]:
    """An unsubscribe within 7 days of an accepted offer: one record per campaign accepted then."""
    if event.event_type not in UNSUBSCRIBE_EVENTS:
        return []
    accepted: dict[str, ResponseRecord] = {}
    for record in history:
        if record.kind in ACCEPTING and record.at <= event.occurred_at <= record.at + UNSUBSCRIBE_WINDOW:
            held = accepted.get(record.campaign_id)
            if held is None or record.at > held.at:
                accepted[record.campaign_id] = record
    return [
        ResponseRecord(customer_id=event.customer_id, campaign_id=cid, kind=ResponseKind.UNSUBSCRIBE,
                       group=record.group, at=event.occurred_at, event_id=event.event_id, channel=record.channel,
                       contact_event_id=record.contact_event_id, detail=event.event_type)
        for cid, record in sorted(accepted.items())
    ]


OPT_OUT_KEYWORDS = frozenset({"TD", "STOP", "退订"})


def reply_intent(text: str, opt_out_keywords: frozenset[str] = OPT_OUT_KEYWORDS) -> tuple[str, str]:
    """('opt_out' | 'reply', the normalised keyword) of an inbound SMS body (trimmed, case-insensitive)."""
    keyword = (text or "").strip().upper()
    if keyword in {k.upper() for k in opt_out_keywords}:
        return "opt_out", keyword
    return "reply", keyword


# What the evaluation counts of each kind (domain.evaluation reads rows told apart by `kind`): a reply
# or an offer accepted at a touchpoint is the customer's response; presented/declined count nowhere.
_EVALUATED = {ResponseKind.RESPONSE: "response", ResponseKind.ACCEPTED: "response",
              ResponseKind.CONVERSION: "conversion", ResponseKind.UNSUBSCRIBE: "unsubscribe"}


def evaluation_row(record: ResponseRecord) -> dict[str, Any] | None:
    """The record as one row of the campaign evaluation, or None when the evaluation has no use for it."""
    kind = _EVALUATED.get(record.kind)
    if kind is None:
        return None
    row: dict[str, Any] = {"kind": kind, "campaign_id": record.campaign_id, "customer_id": record.customer_id,
                           "at": record.at.isoformat(), "source": "responses"}
    if kind == "conversion":
        row["group"] = "treated" if record.group is Group.TREATED else "control"
    return row
