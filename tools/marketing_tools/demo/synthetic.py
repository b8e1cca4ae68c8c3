"""Seeded synthetic data for the demo: profiles from the tag dictionary, a day of events from the catalog.

Events lean on what the live campaigns trigger on (their event types and the attribute values
their `where` names) so the demo exercises matching, and include the bad input SPEC 4.1 lists
(malformed records, unknown types and customers, stale and future timestamps) and re-deliveries.
Same seed, same data.
"""
from __future__ import annotations

import json
import zlib
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterable

import yaml

from marketing.domain.campaigns import Campaign
from marketing.domain.catalog import EventCatalog
from marketing.domain.conditions import EVENT, Test, conjuncts
from marketing.domain.models import DeadLetterReason

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "艳", "杰", "涛", "明", "超", "霞", "平", "刚", "雷", "梅"]
TIMEZONES = ["Asia/Shanghai"] * 17 + ["Asia/Urumqi", "Asia/Hong_Kong", "Europe/London"]


def _tag_value(rng: random.Random, spec: dict[str, Any], now: datetime) -> Any:
    kind = spec["type"]
    if kind == "string":
        return rng.choices(spec["values"], weights=spec.get("weights"))[0]
    if kind in ("integer", "number"):
        lo, hi = spec.get("min", 0), spec.get("max", 100)
        share = rng.random() ** 3 if spec.get("skew") == "low" else rng.random()
        value = lo + (hi - lo) * share
        return int(round(value)) if kind == "integer" else round(value, 2)
    if kind == "boolean":
        return rng.random() < spec.get("p_true", 0.5)
    if kind == "timestamp":
        return (now - timedelta(days=rng.uniform(0, spec.get("max_age_days", 90)))).isoformat(timespec="seconds")
    if kind == "string_list":
        return sorted(rng.sample(spec["values"], rng.randint(0, min(3, len(spec["values"])))))
    raise ValueError(f"unknown tag type {kind!r}")


def make_profiles(n: int, tags_file: Path, seed: int = 42, now: datetime | None = None) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    now = now or datetime.now().astimezone()
    tags = yaml.safe_load(tags_file.read_text(encoding="utf-8"))["tags"]
    profiles = []
    for i in range(n):
        cid = f"86138{i:08d}"
        consents = {
            "marketing": rng.random() < 0.9, "sms": rng.random() < 0.85, "email": rng.random() < 0.4,
            "app_push": rng.random() < 0.6, "dnd": rng.random() < 0.03,
        }
        preference = ["sms", "app_push", "email"]
        rng.shuffle(preference)
        profiles.append({
            "customer_id": cid,
            "status": "active" if rng.random() < 0.96 else rng.choice(["suspended", "closed"]),
            "name": rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.randint(1, 2))),
            "msisdn": f"+{cid}",
            "email": f"user{i}@example.com",
            "timezone": rng.choice(TIMEZONES),
            "locale": "zh-CN",
            "tags": {name: _tag_value(rng, spec, now) for name, spec in tags.items()},
            "consents": consents,
            "channel_preference": preference[: rng.randint(1, 3)],
        })
    return profiles


@dataclass
class EventPlan:
    """What was generated, so the demo can say what should have happened."""

    records: list[bytes] = field(default_factory=list)
    partition_keys: list[str] = field(default_factory=list)
    malformed: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    late: int = 0


def _hints(campaigns: Iterable[Campaign]) -> dict[str, dict[str, list[Any]]]:
    """event type → attribute → values campaigns test for (so generated events can match them)."""
    hints: dict[str, dict[str, list[Any]]] = {}
    for campaign in campaigns:
        per_type = hints.setdefault(campaign.trigger.event, {})
        for node in conjuncts(campaign.where_rule):
            if isinstance(node, Test) and node.path.source == EVENT:
                values = sorted(node.operand, key=str) if node.op in ("in", "nin") else [node.operand]
                if node.op == "between":
                    values = list(node.operand)
                per_type.setdefault(node.path.key, []).extend(values)
    return hints


def _attribute(rng: random.Random, kind: str, hints: list[Any], now: datetime) -> Any:
    if hints and rng.random() < 0.7:
        value = rng.choice(hints)
        if kind in ("integer", "number") and isinstance(value, int | float):
            return type(value)(value + rng.choice([0, 0, 5, 10, -5])) if kind == "integer" else float(value) + rng.uniform(-5, 20)
        return value
    return attribute_value(rng, kind, now)


def attribute_value(rng: random.Random, kind: str, now: datetime) -> Any:
    """A plausible value of a catalog attribute type."""
    match kind:
        case "string":
            return f"X{rng.randint(1, 999):03d}"
        case "integer":
            return rng.randint(0, 100)
        case "number":
            return round(rng.uniform(0, 200), 2)
        case "boolean":
            return rng.random() < 0.5
        case "timestamp":
            return (now + timedelta(days=rng.randint(1, 90))).isoformat(timespec="seconds")
        case "string_list":
            return [f"X{rng.randint(1, 9)}"]
    return None


def make_events(n: int, catalog: EventCatalog, campaigns: list[Campaign], customer_ids: list[str], seed: int = 7,
                now: datetime | None = None, bad_share: float = 0.01, duplicate_share: float = 0.01,
                late_share: float = 0.04, rare_types: frozenset[str] = frozenset(), rare_share: float = 0.15) -> EventPlan:
    """`rare_types` (e.g. the inbound-session openers: store visits, care calls) come `rare_share` as often
    as other types outside the campaigns' triggers: most customers are not at a store right now."""
    rng = random.Random(seed)
    now = now or datetime.now().astimezone()
    hints = _hints(campaigns)
    hot = sorted(hints)
    others = sorted(t for t in catalog.types if t not in hints)
    plan = EventPlan()
    originals: list[tuple[str, bytes]] = []
    bad_kinds = list(SPOILABLE)
    for i in range(n):
        roll = rng.random()
        if originals and roll < duplicate_share:
            key, data = rng.choice(originals)
            plan.records.append(data)
            plan.partition_keys.append(key)
            plan.duplicates += 1
            continue
        event_type = rng.choice(hot) if rng.random() < 0.3 else rng.choice(others)
        if event_type in rare_types and event_type not in hints and rng.random() > rare_share:
            event_type = rng.choice(others)
        spec = catalog.types[event_type]
        type_hints = hints.get(event_type, {})
        attributes = {}
        for attr in spec.attributes.values():
            if attr.required or rng.random() < 0.6:
                attributes[attr.name] = _attribute(rng, attr.type, type_hints.get(attr.name, []), now)
        age = timedelta(seconds=rng.uniform(0, 90))
        if rng.random() < late_share:
            age = timedelta(minutes=rng.uniform(20, 300))
            plan.late += 1
        event = {
            "event_id": f"evt-{seed}-{i:07d}", "event_type": event_type, "customer_id": rng.choice(customer_ids),
            "occurred_at": (now - age).isoformat(timespec="milliseconds"), "source": spec.source or "upstream",
            "touchpoint": "network", "attributes": attributes,
        }
        if rng.random() < bad_share:
            kind = bad_kinds[i % len(bad_kinds)]
            plan.malformed[kind.value] = plan.malformed.get(kind.value, 0) + 1
            data = _spoil(event, kind, spec, now).encode() if kind != DeadLetterReason.NOT_JSON else b"{not json: " + str(i).encode()
            plan.records.append(data)
            plan.partition_keys.append(event["customer_id"])
            continue
        data = json.dumps(event, ensure_ascii=False).encode()
        originals.append((event["customer_id"], data))
        plan.records.append(data)
        plan.partition_keys.append(event["customer_id"])
    return plan


# the reasons a record can be spoiled for on its way in. Not these, which the integration tests
# cover: a profile update that cannot apply (it needs a profile in a state the synthetic day does not
# make), `unparseable` (the catch-all for what no other reason names) and `duplicate_id_conflict`
# (an id reused for another event is refused only where the event reserves a contact)
SPOILABLE = tuple(r for r in DeadLetterReason if r not in (
    DeadLetterReason.PROFILE_UPDATE, DeadLetterReason.UNPARSEABLE, DeadLetterReason.DUPLICATE_ID_CONFLICT))


def _spoil(event: dict[str, Any], kind: DeadLetterReason, spec: Any, now: datetime) -> str:
    bad = json.loads(json.dumps(event))
    match kind:
        case DeadLetterReason.MISSING_FIELD:
            del bad["customer_id"]
        case DeadLetterReason.INVALID_FIELD:
            bad["occurred_at"] = "yesterday afternoon"
        case DeadLetterReason.UNKNOWN_EVENT_TYPE:
            bad["event_type"] = "location.teleported"
        case DeadLetterReason.INVALID_ATTRIBUTE:
            bad["event_type"] = "location.enter_area"
            bad["attributes"] = {"area_id": 12345}
        case DeadLetterReason.IN_FUTURE:
            bad["occurred_at"] = (now + timedelta(hours=3)).isoformat()
        case DeadLetterReason.TOO_OLD:
            bad["occurred_at"] = (now - timedelta(days=3)).isoformat()
        case DeadLetterReason.UNKNOWN_CUSTOMER:
            # a customer nobody knows, on a type that does not create its customer's profile
            bad["customer_id"] = f"86199{zlib.crc32(bad['event_id'].encode()):010d}"
            if spec.creates_profile:
                bad["event_type"] = "location.enter_area"
                bad["attributes"] = {"area_id": "airport-pvg"}
    return json.dumps(bad, ensure_ascii=False)
