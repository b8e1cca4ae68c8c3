"""The channel preference model: which channel a customer actually answers on, from contact history.

The preferred channel is the most-used channel (most delivered contacts) on which the customer
responded at least once and never complained; without one, the profile's own `channel_preference`
stands. Pure: the history comes in as a value (the contact ledger keeps it), nothing is read here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from marketing.domain.models import Channel


@dataclass(frozen=True)
class ChannelHistory:
    used: Mapping[Channel, int] = field(default_factory=dict)        # delivered contacts per channel
    responded: Mapping[Channel, int] = field(default_factory=dict)   # responses per channel
    complained: frozenset[Channel] = frozenset()                    # channels complained about

    @classmethod
    def from_counts(cls, used: Mapping[str, int], responded: Mapping[str, int], complained: Sequence[str]) -> ChannelHistory:
        known = {c.value for c in Channel}
        return cls({Channel(k): int(v) for k, v in used.items() if k in known},
                   {Channel(k): int(v) for k, v in responded.items() if k in known},
                   frozenset(Channel(c) for c in complained if c in known))


def preferred_channel(history: ChannelHistory) -> Channel | None:
    """The channel the history prefers, or None when no channel qualifies. Ties: more responses,
    then the fixed channel order (so every function agrees)."""
    order = {c: i for i, c in enumerate(Channel)}
    qualified = [c for c, n in history.responded.items() if n > 0 and c not in history.complained]
    if not qualified:
        return None
    return min(qualified, key=lambda c: (-history.used.get(c, 0), -history.responded.get(c, 0), order[c]))


def channel_preference(history: ChannelHistory, profile_preference: Sequence[Channel]) -> list[Channel]:
    """The customer's effective preference: the history's channel first, then the profile's list;
    channels complained about go last (they stay usable if consented: consent decides, not this)."""
    best = preferred_channel(history)
    ordered = ([best] if best else []) + [c for c in profile_preference if c != best]
    return [c for c in ordered if c not in history.complained] + [c for c in ordered if c in history.complained]
