"""Whether one contact fits in every limit it must (SPEC 4.4): the refusal rule, written once.

Both contact ledgers call it: the in-memory one under its lock before counting, the DynamoDB one on
the state its conditional write saw refused (the write itself is the atomic guard). Pure: it reads
the counts it is given and never counts anything.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping

from marketing.domain.contact_policy import CapCheck
from marketing.domain.decisions import Refusal
from marketing.domain.models import Outcome, Reason


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


def cap_key(cap: CapCheck) -> str:
    """The counter a cap counts in, e.g. `day#2026-11-23#sms`."""
    return f"{cap.period}#{cap.period_key}#{cap.counter}"


@dataclass(frozen=True)
class ContactState:
    """The counts a request is judged against, as the ledger holds them before this contact."""

    contacts: int = 0                  # the campaign's contacts of this customer
    last_at: int | None = None         # the campaign's last contact of this customer (epoch seconds)
    caps: Mapping[str, int] = field(default_factory=dict)  # cap_key → contacts counted
    complaint_until: int | None = None  # a complaint suppresses the customer until (epoch seconds)
    day_count: int = 0                 # the campaign's contacts on the request's campaign_day
    spent: float = 0.0                 # the campaign's spend so far


def customer_refusal(request: ContactRequest, state: ContactState) -> Refusal | None:
    """The customer's limits, in the order a refusal names them: per campaign, cooldown, caps, complaint."""
    now_s = int(request.now.timestamp())
    if request.per_customer is not None and state.contacts >= request.per_customer:
        return Refusal(Outcome.THROTTLED, Reason.PER_CUSTOMER, f"{state.contacts} of {request.per_customer}")
    if request.cooldown_s is not None and state.last_at is not None and state.last_at > now_s - request.cooldown_s:
        return Refusal(Outcome.THROTTLED, Reason.COOLDOWN, f"last contact {datetime.fromtimestamp(state.last_at).isoformat()}")
    for cap in request.caps:
        if state.caps.get(cap_key(cap), 0) >= cap.limit:
            return Refusal(Outcome.THROTTLED, Reason.CAP, cap.name)
    if request.check_complaint and (state.complaint_until or 0) > now_s:
        return Refusal(Outcome.SUPPRESSED, Reason.COMPLAINT)
    return None


def campaign_refusal(request: ContactRequest, state: ContactState) -> Refusal | None:
    """The campaign's limits: its daily cap, then its budget."""
    if request.daily_cap is not None and state.day_count >= request.daily_cap:
        return Refusal(Outcome.THROTTLED, Reason.DAILY_CAP, f"{request.daily_cap} a day")
    if request.budget is not None and state.spent + request.cost > request.budget:
        return Refusal(Outcome.THROTTLED, Reason.BUDGET, f"{state.spent:g} of {request.budget:g} spent")
    return None


def refusal(request: ContactRequest, state: ContactState) -> Refusal | None:
    """Why this contact may not be made (None: it fits in every limit)."""
    return customer_refusal(request, state) or campaign_refusal(request, state)
