"""The naive evaluator: interprets every campaign's raw definition for every event, no index, no compile.

It is the reference the indexed matcher is proven equal to (property tests) and the baseline the
benchmark measures against. It must stay obviously correct rather than fast.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from marketing.domain.conditions import MISSING, test_value
from marketing.domain.durations import parse_duration
from marketing.domain.models import freeze


def _resolve(path: str, event: dict[str, Any], profile: dict[str, Any], bare_is_event: bool) -> Any:
    attributes = event.get("attributes") or {}
    if path.startswith("tags."):
        value = (profile.get("tags") or {}).get(path[5:], MISSING)
    elif path.startswith("event."):
        value = attributes.get(path[6:], MISSING)
    elif bare_is_event:
        value = attributes.get(path, MISSING)
    elif path.startswith("consents."):
        value = (profile.get("consents") or {}).get(path[9:], False)
    elif path == "channel_preference":
        value = profile.get(path) or []
    else:
        value = profile.get(path, MISSING)
    return MISSING if value is None else freeze(value)


def _holds(condition: Any, event: dict, profile: dict, now: float, bare_is_event: bool) -> bool:
    if not condition:
        return True
    for key, spec in condition.items():
        if key == "any":
            ok = any(_holds(c, event, profile, now, bare_is_event) for c in spec)
        elif key == "all":
            ok = all(_holds(c, event, profile, now, bare_is_event) for c in spec)
        elif key == "not":
            ok = not _holds(spec, event, profile, now, bare_is_event)
        else:
            value = _resolve(key, event, profile, bare_is_event)
            tests = spec.items() if isinstance(spec, dict) else [("eq", spec)]
            ok = all(test_value(op, value, _operand(op, operand), now) for op, operand in tests)
        if not ok:
            return False
    return True


def _operand(op: str, operand: Any) -> Any:
    if op in ("in", "nin"):
        return frozenset(operand)
    if op == "between":
        return tuple(operand)
    if op == "within":
        return parse_duration(operand).total_seconds()
    return operand


def _live(definition: dict, now: datetime) -> bool:
    schedule = definition["schedule"]
    start, end = schedule["start"], schedule["end"]
    start = start if isinstance(start, datetime) else datetime.fromisoformat(start)
    end = end if isinstance(end, datetime) else datetime.fromisoformat(end)
    return start <= now <= end


def naive_match(definitions: list[dict], event: dict, profile: dict, now: datetime) -> tuple[list[str], list[str]]:
    """(eligible ids, rejected ids) in definition order, for raw event/profile/campaign dicts."""
    eligible, rejected = [], []
    ts = now.timestamp()
    for definition in definitions:
        trigger = definition["trigger"]
        if trigger["event"] != event["event_type"] or not _live(definition, now):
            continue
        if not _holds(trigger.get("where"), event, profile, ts, bare_is_event=True):
            continue
        if _holds(definition.get("audience"), event, profile, ts, bare_is_event=False):
            eligible.append(definition["id"])
        else:
            rejected.append(definition["id"])
    return eligible, rejected
