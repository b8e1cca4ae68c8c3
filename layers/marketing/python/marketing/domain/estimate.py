"""The estimate an approver reads (a backtest): what a new campaign would have done on recent events.

Replays (event, profile) pairs through the real matcher, screening and arbitration together with the
live campaigns; `reserve` is the contact policy's counting (the use case passes a fresh in-memory
ledger). Pure: never reads storage or the clock; each event is judged at its own occurred_at.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable

from marketing.domain.campaigns import Campaign, Schedule
from marketing.domain.contact_policy import ContactPolicy
from marketing.domain.decisions import Candidate, Refusal, arbitrate, screen
from marketing.domain.matching import CampaignIndex
from marketing.domain.models import Channel, CustomerEvent, Outcome, Profile

Reserve = Callable[[Candidate, CustomerEvent, Profile, datetime], Refusal | None]


@dataclass
class Estimate:
    campaign_id: str
    events: int = 0                      # events replayed
    days: float = 1.0                    # the span they cover (at least one day)
    triggered: int = 0                   # events of the campaign's trigger type and where-clause
    eligible: int = 0                    # ... whose customer is in the audience
    sends: int = 0                       # contacts the campaign would make (sent or deferred)
    holdout: int = 0                     # decisions kept in its control group
    reach: int = 0                       # distinct customers contacted
    refused: Counter = field(default_factory=Counter)           # throttled/suppressed/expired by reason
    takes_from: Counter = field(default_factory=Counter)        # live lower-priority campaign → decisions it would win
    loses_to: Counter = field(default_factory=Counter)          # live higher-priority campaign → decisions it would lose
    unknown_customers: int = 0
    offer_value: float = 0.0
    cost_per_contact: float = 0.0

    @property
    def sends_per_day(self) -> float:
        return self.sends / self.days

    @property
    def contact_cost(self) -> float:
        return self.sends * self.cost_per_contact

    @property
    def max_offer_cost(self) -> float:
        """If every contacted customer took the offer."""
        return self.sends * self.offer_value

    def to_json(self) -> dict[str, Any]:
        return {
            "campaign_id": self.campaign_id, "events_replayed": self.events, "days": round(self.days, 3),
            "triggered": self.triggered, "eligible": self.eligible, "sends": self.sends, "holdout": self.holdout,
            "reach": self.reach, "sends_per_day": round(self.sends_per_day, 2),
            "contact_cost": round(self.contact_cost, 2), "max_offer_cost": round(self.max_offer_cost, 2),
            "refused": dict(self.refused), "takes_from": dict(self.takes_from), "loses_to": dict(self.loses_to),
            "unknown_customers": self.unknown_customers,
        }


def _always_live(campaign: Campaign, first: datetime, last: datetime) -> Campaign:
    """The new campaign as if live over the replayed window (its real schedule usually starts later)."""
    return campaign.model_copy(update={"schedule": Schedule.model_construct(start=first, end=last)})


def estimate(campaign: Campaign, live: Iterable[Campaign], replay: Iterable[tuple[CustomerEvent, Profile | None]],
             reserve: Reserve, *, policy: ContactPolicy | None = None,
             channels: frozenset[Channel] = frozenset(Channel), cost_per_contact: float = 0.0) -> Estimate:
    pairs = sorted(replay, key=lambda pair: pair[0].occurred_at)
    out = Estimate(campaign.id, offer_value=campaign.offer.value, cost_per_contact=cost_per_contact)
    if not pairs:
        return out
    first, last = pairs[0][0].occurred_at, pairs[-1][0].occurred_at
    out.days = max(1.0, (last - first).total_seconds() / 86400)
    others = [c for c in live if c.id != campaign.id]
    everyone = [*others, _always_live(campaign, first, last)]
    index = CampaignIndex(everyone, first)
    reached: set[str] = set()
    by_id = {c.id: c for c in others}
    for event, profile in pairs:
        out.events += 1
        if profile is None:
            out.unknown_customers += 1
            continue
        if index.stale(event.occurred_at):
            index = CampaignIndex(everyone, event.occurred_at)
        now = event.occurred_at
        match = index.match(event.event_type, event.attributes, profile.fields(), profile.tags, now.timestamp())
        ours = any(c.id == campaign.id for c in match.eligible)
        triggered = ours or any(c.id == campaign.id for c, _ in match.rejected)
        if not triggered:
            continue
        out.triggered += 1
        if not ours:
            continue
        out.eligible += 1
        screening = screen(event, profile, match, now, channels, policy)
        verdicts = list(screening.verdicts)
        if screening.candidates:
            _, decided = arbitrate(screening.candidates, lambda c: reserve(c, event, profile, now))
            verdicts += decided
        mine = next((v for v in verdicts if v[0] == campaign.id), None)
        if mine is None:
            continue
        _, outcome, reason, _, detail = mine
        if outcome in (Outcome.SENT, Outcome.DEFERRED):
            out.sends += 1
            reached.add(profile.customer_id)
            for other_id, other_outcome, *_rest in verdicts:
                if other_id != campaign.id and other_outcome == Outcome.LOST_ARBITRATION:
                    out.takes_from[other_id] += 1
        elif outcome == Outcome.HOLDOUT:
            out.holdout += 1
        elif outcome == Outcome.LOST_ARBITRATION and detail in by_id:
            out.loses_to[detail] += 1
        else:
            out.refused[f"{outcome.value}:{reason.value if reason else ''}"] += 1
    out.reach = len(reached)
    return out
