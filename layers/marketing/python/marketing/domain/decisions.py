"""From matched campaigns to one offer: screening, arbitration and the decision records (SPEC 4.4, 4.5).

Arbitration: the eligible campaigns are tried in order of priority (highest first), ties broken
by campaign id (ascending, so the order is total and the same on every run). The first whose
contact reservation succeeds wins; every other considered campaign gets a record saying why not.
The reservation itself (atomic caps) is a callable passed in: this module never does I/O.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter
from datetime import datetime
from typing import Callable, Iterable

from pydantic import BaseModel, ConfigDict

from marketing.domain.campaigns import Campaign
from marketing.domain.handoff import Timestamp
from marketing.domain.contact_policy import ContactPolicy, in_group, quiet_until
from marketing.domain.matching import Match
from marketing.domain.models import Channel, CustomerEvent, DecisionRecord, Outcome, Profile, Reason

# A verdict is a plain tuple because one event may be judged against thousands of campaigns:
# (campaign_id, outcome, reason, channel, detail)
Verdict = tuple[str, Outcome, Reason | None, Channel | None, str | None]


def arbitration_key(campaign: Campaign) -> tuple[int, str]:
    return campaign.arbitration_rank


_RANK = attrgetter("arbitration_rank")


def reachable_channels(campaign: Campaign, profile: Profile, available: frozenset[Channel]) -> list[Channel]:
    """The campaign's channels in its order, kept when consented and reachable, re-ordered by the
    customer's channel preference (channels the customer did not list keep the campaign's order)."""
    consents = profile.consents
    reachable = {
        Channel.SMS: consents.sms and bool(profile.msisdn),
        Channel.EMAIL: consents.email and bool(profile.email),
        Channel.APP_PUSH: consents.app_push and bool(profile.push_endpoint),
    }
    channels = [c for c in campaign.channel_order if c in available and reachable[c]]
    if profile.channel_preference:
        rank = {ch: i for i, ch in enumerate(profile.channel_preference)}
        channels.sort(key=lambda ch: rank.get(ch, len(rank)))
    return channels


@dataclass(slots=True)  # not frozen: made for every eligible campaign of every event, frozen init costs
class Candidate:
    campaign: Campaign
    channel: Channel
    holdout: bool = False               # in the campaign's control group: wins, but nothing is sent
    not_before: datetime | None = None  # quiet hours: reserved now, delivered when they end


@dataclass(slots=True)
class Screening:
    """What the pure checks decided, and the candidates left for arbitration, in arbitration order.

    Audience rejections stay as the matcher produced them (campaign, failing path) and become
    `not_eligible` records only when written: an event can be judged against thousands."""

    audience: Match = field(default_factory=Match)  # who the audience refused (listed lazily)
    verdicts: list[Verdict] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)

    @property
    def rejected(self) -> list[tuple[Campaign, str]]:
        """Audience rejections: each becomes a not_eligible record."""
        return self.audience.rejected


def _unreachable(campaign: Campaign, profile: Profile, available: frozenset[Channel]) -> Reason:
    """Why none of a campaign's channels can be used: opted out of all, or no address for the rest."""
    consents = profile.consents
    usable = [c for c in campaign.channel_order if c in available]
    return Reason.OPT_OUT if usable and not any(getattr(consents, c.value) for c in usable) else Reason.NO_CHANNEL


# An enum member read from its class costs a descriptor call (Python 3.11); the loops below make
# a verdict per campaign, so they use these.
_EXPIRED, _SUPPRESSED, _LOST, _SENT, _NOT_ELIGIBLE = (
    Outcome.EXPIRED, Outcome.SUPPRESSED, Outcome.LOST_ARBITRATION, Outcome.SENT, Outcome.NOT_ELIGIBLE)
_MARKETING_CONSENT, _DND, _PRIORITY, _AUDIENCE = Reason.MARKETING_CONSENT, Reason.DND, Reason.PRIORITY, Reason.AUDIENCE


def screen(
    event: CustomerEvent,
    profile: Profile,
    match: Match,
    now: datetime,
    available: frozenset[Channel] = frozenset(Channel),
    policy: ContactPolicy | None = None,
) -> Screening:
    """The checks that need no counting: age, consents, control groups, quiet hours, channels."""
    eligible = match.eligible
    if not eligible:
        return Screening(match, [], [])
    verdicts: list[Verdict] = []
    candidates: list[Candidate] = []
    age = None
    consents = profile.consents
    refused = (_MARKETING_CONSENT if not consents.marketing else _DND if consents.dnd else None)
    global_control = policy is not None and in_group(profile.customer_id, "global", policy.global_control_group)
    quiet = quiet_until(policy, now, profile.timezone) if policy is not None else None
    # campaigns often share a channel list: (first channel, or why there is none) per list
    channels_for: dict[tuple[Channel, ...], tuple[Channel | None, Reason | None]] = {}
    for campaign in (sorted(eligible, key=_RANK) if len(eligible) > 1 else eligible):
        max_age = campaign.max_event_age_s
        if max_age is not None:
            if age is None:
                age = (now - event.occurred_at).total_seconds()
            if age > max_age:
                verdicts.append((campaign.id, _EXPIRED, Reason.MAX_EVENT_AGE, None, f"event age {int(age)}s"))
                continue
        if refused is not None:
            verdicts.append((campaign.id, _SUPPRESSED, refused, None, None))
        elif global_control:
            verdicts.append((campaign.id, Outcome.HOLDOUT, Reason.GLOBAL_CONTROL, None, None))
        elif quiet is not None and campaign.quiet_hours == "drop":
            verdicts.append((campaign.id, Outcome.SUPPRESSED, Reason.QUIET_HOURS, None, f"until {quiet.isoformat()}"))
        else:
            order = campaign.channel_order
            known = channels_for.get(order)
            if known is None:
                reachable = reachable_channels(campaign, profile, available)
                channel = reachable[0] if reachable else None
                known = channels_for[order] = (channel, None if channel else _unreachable(campaign, profile, available))
            channel, unreachable = known
            if channel is not None:
                holdout = campaign.control_group > 0 and in_group(profile.customer_id, campaign.id, campaign.control_group)
                candidates.append(Candidate(campaign, channel, holdout, quiet))
            else:
                verdicts.append((campaign.id, _SUPPRESSED, unreachable, None, None))
    return Screening(match, verdicts, candidates)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a reservation was refused: the outcome and the rule (e.g. throttled / per_customer)."""

    outcome: Outcome
    reason: Reason
    detail: str | None = None


def arbitrate(
    candidates: Iterable[Candidate],
    reserve: Callable[[Candidate], Refusal | None],
) -> tuple[Candidate | None, list[Verdict]]:
    """Try candidates in order; the first reserved wins, the ones after it lose arbitration."""
    verdicts: list[Verdict] = []
    winner: Candidate | None = None
    for candidate in candidates:
        campaign = candidate.campaign
        if winner is not None:
            verdicts.append((campaign.id, _LOST, _PRIORITY, None, winner.campaign.id))
            continue
        if candidate.holdout:  # the control customer is decided like a treated one, then not contacted
            winner = candidate
            verdicts.append((campaign.id, Outcome.HOLDOUT, Reason.CONTROL_GROUP, None, None))
            continue
        refusal = reserve(candidate)
        if refusal is None:
            winner = candidate
            if candidate.not_before is not None:
                verdicts.append((campaign.id, Outcome.DEFERRED, Reason.QUIET_HOURS, candidate.channel,
                                 f"until {candidate.not_before.isoformat()}"))
            else:
                verdicts.append((campaign.id, _SENT, None, candidate.channel, None))
        else:
            verdicts.append((campaign.id, refusal.outcome, refusal.reason, None, refusal.detail))
    return winner, verdicts


class Commitment(BaseModel):
    """What arbitration committed to for one event. Stored (as JSON) in the event's mark, written with
    its reservation, so a re-delivered event replays it instead of reserving again; the stored shape
    is this model's JSON."""

    model_config = ConfigDict(frozen=True)

    winner: str | None = None
    channel: Channel | None = None
    holdout: bool = False                 # the winner is the control group's: nothing is sent
    not_before: Timestamp | None = None   # quiet hours: delivered when they end
    verdicts: list[tuple[str, Outcome, Reason | None, Channel | None, str | None]] = []

    @classmethod
    def of(cls, winner: Candidate | None, verdicts: list[Verdict]) -> Commitment:
        return cls(winner=winner.campaign.id if winner else None, channel=winner.channel if winner else None,
                   holdout=bool(winner and winner.holdout), not_before=winner.not_before if winner else None,
                   verdicts=verdicts)

    def stored(self) -> dict:
        return self.model_dump(mode="json")


def decision_id(customer_id: str, event_id: str, campaign_id: str) -> str:
    """Stable across retries, so a re-processed event overwrites rather than duplicates its records;
    an event_id is unique per customer only, so the customer is part of it."""
    return f"{customer_id}:{event_id}:{campaign_id}"


def all_verdicts(rejected: Iterable[tuple[Campaign, str]], verdicts: Iterable[Verdict]) -> list[Verdict]:
    out: list[Verdict] = [(c.id, _NOT_ELIGIBLE, _AUDIENCE, None, path) for c, path in rejected]
    out.extend(verdicts)
    return out


def to_records(
    event: CustomerEvent, verdicts: Iterable[Verdict], decided_at: datetime, latency_ms: float
) -> list[DecisionRecord]:
    return [
        DecisionRecord(
            decision_id=decision_id(event.customer_id, event.event_id, cid),
            event_id=event.event_id,
            customer_id=event.customer_id,
            campaign_id=cid,
            outcome=outcome,
            reason=reason,
            channel=channel,
            decided_at=decided_at,
            latency_ms=latency_ms,
            detail=detail,
        )
        for cid, outcome, reason, channel, detail in verdicts
    ]


def record_rows(
    event: CustomerEvent, verdicts: Iterable[Verdict], decided_at: str, latency_ms: float
) -> list[dict]:
    """The same records as plain JSON-ready rows, built without per-row validation (the hot path)."""
    eid, cust = event.event_id, event.customer_id
    return [
        {
            "decision_id": f"{cust}:{eid}:{cid}",  # decision_id(), inlined on the hot path
            "event_id": eid,
            "customer_id": cust,
            "campaign_id": cid,
            "outcome": outcome,  # StrEnum members are str: they serialise as their value
            "reason": reason,
            "channel": channel,
            "decided_at": decided_at,
            "latency_ms": latency_ms,
            "detail": detail,
        }
        for cid, outcome, reason, channel, detail in verdicts
    ]


_STAGE = {Outcome.FAILED.value: 1}  # delivery's verdict on a decision comes after decide's


def current_records(rows: Iterable[dict]) -> dict[str, dict]:
    """The verdict that stands for each decision_id: the latest by `decided_at`; at the same instant
    a delivery failure supersedes the decision to send (storage order is not time order)."""
    current: dict[str, dict] = {}
    for row in rows:
        held = current.get(row["decision_id"])
        if held is None or (row["decided_at"], _STAGE.get(row["outcome"], 0)) >= (held["decided_at"], _STAGE.get(held["outcome"], 0)):
            current[row["decision_id"]] = row
    return current
