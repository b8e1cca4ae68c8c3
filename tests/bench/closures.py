"""The baseline a competent engineer writes first: each campaign's `trigger.where` and audience
compiled once into plain Python closures, campaigns indexed by event type only, and every campaign of
the event's type evaluated per event (no memo, no shared tests, no bitsets).

It reads the product's parsed trees (so it agrees with `naive_match` by construction of the same
operators) and is benchmark code only: the product never imports it.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, Callable

from marketing.domain.campaigns import Campaign
from marketing.domain.conditions import MISSING, AllOf, AnyOf, Node, Not, Test, compare, test_value
from marketing.domain.models import freeze

Predicate = Callable[[dict, float], bool]


def _leaf(node: Test) -> Predicate:
    source, key, op, x = node.path.source, node.path.key, node.op, node.operand
    m = MISSING
    if op == "eq":
        return lambda s, now: (v := s[source].get(key, m)) is not m and v == x
    if op == "ne":
        return lambda s, now: (v := s[source].get(key, m)) is m or v != x
    if op == "in":
        return lambda s, now: (v := s[source].get(key, m)) is not m and v in x
    if op == "nin":
        return lambda s, now: (v := s[source].get(key, m)) is m or v not in x
    if op in ("gt", "gte", "lt", "lte"):
        return lambda s, now: compare(op, s[source].get(key, m), x)
    if op == "exists":
        return lambda s, now: (s[source].get(key, m) is not m) == x
    return lambda s, now: test_value(op, freeze(s[source].get(key, m)), x, now)


def compile_node(node: Node) -> Predicate:
    if isinstance(node, Test):
        return _leaf(node)
    if isinstance(node, Not):
        inner = compile_node(node.part)
        return lambda s, now: not inner(s, now)
    parts = tuple(compile_node(p) for p in node.parts)
    if isinstance(node, AnyOf):
        return lambda s, now: any(p(s, now) for p in parts)
    assert isinstance(node, AllOf)
    return lambda s, now: all(p(s, now) for p in parts)


class ClosurePeer:
    """Live campaigns by event type, each a (id, where, audience) of compiled closures."""

    def __init__(self, campaigns: list[Campaign], now: datetime):
        self.by_type: dict[str, list[tuple[str, Predicate, Predicate]]] = defaultdict(list)
        for campaign in campaigns:
            if campaign.live_at(now):
                self.by_type[campaign.trigger.event].append(
                    (campaign.id, compile_node(campaign.where_rule), compile_node(campaign.audience_rule)))

    def match(self, event_type: str, sources: dict[str, dict[str, Any]], now: float) -> tuple[list[str], list[str]]:
        """(eligible ids, rejected ids) in campaign order; `sources` maps EVENT/FIELD/TAG to their maps."""
        eligible, rejected = [], []
        for campaign_id, where, audience in self.by_type.get(event_type, ()):
            if where(sources, now):
                (eligible if audience(sources, now) else rejected).append(campaign_id)
        return eligible, rejected
