"""Profile updates declared as data (SPEC 4.7): the catalog's rules and an event → the new profile.

Pure: no I/O. Each rule is one operation on a `tags.X` path — set, unset, increment, add, remove,
count (a rolling window), apply_product (the product table's tags, for the product's duration) — and
may carry `when`, attribute → value the event must carry. Applying is idempotent per event: the
profile keeps the ids of the last events applied (`applied`), and a rolling count keeps its events
by id (`windows`), so a re-delivered event changes nothing and an event older than the window counts
nowhere.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from marketing.domain.durations import parse_duration
from marketing.domain.models import CustomerEvent, Profile

OPERATIONS = ("set", "unset", "increment", "add", "remove", "count", "apply_product")
APPLIED_KEPT = 50  # event ids remembered per profile: more than any redelivery reaches back
_PLACEHOLDER = re.compile(r"^\{([a-z_][a-z0-9_]*)\}$")


@dataclass(frozen=True)
class Product:
    code: str
    sets: dict[str, Any]
    lasts: timedelta | None = None


@dataclass(frozen=True)
class Rule:
    op: str
    target: str                     # the tag name (without `tags.`) or, for apply_product, the value template
    value: Any = None
    window: timedelta | None = None
    when: dict[str, Any] = field(default_factory=dict)


class UpdateError(Exception):
    """An update that cannot be applied to this profile (the event is dead-lettered with it)."""


def parse_rules(specs: Any, where: str) -> tuple[tuple[Rule, ...], list[str]]:
    rules, errors = [], []
    for i, spec in enumerate(specs or []):
        here = f"{where}.updates[{i}]"
        ops = [op for op in OPERATIONS if isinstance(spec, dict) and op in spec]
        if len(ops) != 1:
            errors.append(f"{here}: needs exactly one of {', '.join(OPERATIONS)}")
            continue
        op = ops[0]
        target = spec[op]
        if op != "apply_product":
            if not isinstance(target, str) or not target.startswith("tags.") or len(target) <= 5:
                errors.append(f"{here}.{op}: must name a tag as tags.NAME, not {target!r}")
                continue
            target = target[5:]
        window = None
        if op == "count":
            try:
                window = parse_duration(spec.get("window"))
            except (ValueError, TypeError) as e:
                errors.append(f"{here}.window: {e}")
                continue
        when = spec.get("when") or {}
        if not isinstance(when, dict):
            errors.append(f"{here}.when: must map attribute → value")
            continue
        rules.append(Rule(op, target, spec.get("value", 1 if op == "increment" else None), window, dict(when)))
    return tuple(rules), errors


def parse_products(data: Any) -> dict[str, Product]:
    products = {}
    for code, spec in ((data or {}).get("products") or {}).items():
        lasts = parse_duration(spec["for"]) if spec.get("for") else None
        products[code] = Product(code, dict(spec.get("sets") or {}), lasts)
    return products


def _resolve(value: Any, event: CustomerEvent) -> Any:
    if isinstance(value, str) and (m := _PLACEHOLDER.match(value)):
        name = m.group(1)
        if name == "occurred_at":
            return event.occurred_at.isoformat()
        if name not in event.attributes:
            raise UpdateError(f"event {event.event_id} has no attribute {name!r} the update reads")
        return event.attributes[name]
    return value


def apply(profile: Profile, event: CustomerEvent, rules: tuple[Rule, ...], products: dict[str, Product],
          now: datetime) -> Profile | None:
    """The profile after `event`, or None when it changes nothing (no rule, or already applied)."""
    if not rules or any(a.get("event_id") == event.event_id for a in profile.applied):
        return None
    tags = dict(profile.tags)
    windows = {k: dict(v) for k, v in profile.windows.items()}
    expiry = dict(profile.expiry)
    for tag, until in list(expiry.items()):  # what expired is gone before the event is decided
        if datetime.fromisoformat(until) <= now:
            tags.pop(tag, None)
            del expiry[tag]
    for rule in rules:
        if any(event.attributes.get(k) != v for k, v in rule.when.items()):
            continue
        if rule.op == "set":
            tags[rule.target] = _resolve(rule.value, event)
        elif rule.op == "unset":
            tags.pop(rule.target, None)
        elif rule.op == "increment":
            by = _resolve(rule.value, event)
            current = tags.get(rule.target, 0)
            if not isinstance(by, (int, float)) or not isinstance(current, (int, float)):
                raise UpdateError(f"tags.{rule.target}: cannot increment {current!r} by {by!r}")
            tags[rule.target] = current + by
        elif rule.op in ("add", "remove"):
            value, current = _resolve(rule.value, event), tags.get(rule.target, [])
            if not isinstance(current, (list, tuple)):
                raise UpdateError(f"tags.{rule.target}: {rule.op} needs a list tag, it holds {current!r}")
            items = [v for v in current if v != value]
            tags[rule.target] = items + [value] if rule.op == "add" else items
        elif rule.op == "count":
            assert rule.window is not None
            seen = windows.setdefault(rule.target, {})
            if event.occurred_at > now - rule.window:
                seen[event.event_id] = event.occurred_at.isoformat()
            cutoff = now - rule.window
            windows[rule.target] = seen = {k: t for k, t in seen.items() if datetime.fromisoformat(t) > cutoff}
            tags[rule.target] = len(seen)
        elif rule.op == "apply_product":
            code = _resolve(rule.target, event)
            product = products.get(code)
            if product is None:
                continue  # a product that sets nothing is not an error: most products carry no tags
            tags.update(product.sets)
            for tag in product.sets:
                if product.lasts:
                    expiry[tag] = (event.occurred_at + product.lasts).isoformat()
                else:
                    expiry.pop(tag, None)
    applied = [*profile.applied, {"event_id": event.event_id, "at": now.isoformat()}][-APPLIED_KEPT:]
    try:
        return Profile.model_validate({**profile.model_dump(), "tags": tags, "windows": windows,
                                       "expiry": expiry, "applied": applied})
    except ValueError as e:
        raise UpdateError(str(e)) from e


PROFILE_FIELDS = ("msisdn", "email", "name", "timezone", "locale")


def new_profile(event: CustomerEvent) -> Profile:
    """The profile a `creates_profile` event starts: its customer, the event's profile fields and
    `consent_<channel>` attributes; its tags come from the type's update rules, applied next."""
    fields = {k: event.attributes[k] for k in PROFILE_FIELDS if k in event.attributes}
    consents = {k[len("consent_"):]: v for k, v in event.attributes.items() if k.startswith("consent_")}
    try:
        return Profile.model_validate({"customer_id": event.customer_id, **fields, "consents": consents})
    except ValueError as e:
        raise UpdateError(f"cannot create profile {event.customer_id!r}: {e}") from e
