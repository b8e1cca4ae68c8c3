"""Profile updates declared as data (SPEC 4.7): the catalog's rules and an event → the new profile.

Pure: no I/O. Each rule is one operation on a `tags.X` path — set, unset, increment, add, remove,
count (a rolling window), apply_product (the product table's tags, for the product's duration) — and
may carry `when`, attribute → value the event must carry. Applying is idempotent per event: the
profile keeps the ids of the last events applied (`applied`), and a rolling count keeps its events
by id (`windows`), so a re-delivered event changes nothing and an event older than the window counts
nowhere. The catalog's attribute types keep every value a scalar or list, so tags stay valid.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
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
        value = event.attributes[name]
    return tuple(value) if isinstance(value, list) else value


class Instant:
    """`now` as the rules compare it, computed once per batch."""

    __slots__ = ("at", "iso", "ts")

    def __init__(self, at: datetime):
        self.at, self.iso, self.ts = at, _utc(at).isoformat(), at.timestamp()


class Draft:
    """One customer's profile while a batch's updates apply: plain dicts mutated in place, copied
    only when a Profile handed out earlier shares them (copy on write), so a customer's events in a
    batch cost one copy, not one per event."""

    __slots__ = ("base", "tags", "windows", "expiry", "applied", "changed", "_shared")

    def __init__(self, profile: Profile):
        self.base, self.changed = profile, False
        self.tags, self.windows, self.expiry, self.applied = profile.tags, profile.windows, profile.expiry, profile.applied
        self._shared = True  # the dicts are the profile's own until the first change copies them

    def _own(self) -> None:
        if self._shared:
            self.tags, self.expiry, self.applied = dict(self.tags), dict(self.expiry), dict(self.applied)
            self.windows = {k: dict(v) for k, v in self.windows.items()}
            self._shared = False

    def apply(self, event: CustomerEvent, rules: tuple[Rule, ...], products: dict[str, Product],
              now: Instant) -> bool:
        """Apply `event`'s rules; False when there are none or the event was applied before."""
        if not rules or event.event_id in self.applied:
            return False
        self._own()
        tags, expiry = self.tags, self.expiry
        if expiry:  # what expired is gone before the event is decided
            for tag in [t for t, until in expiry.items() if until <= now.iso]:
                tags.pop(tag, None)
                del expiry[tag]
        for rule in rules:
            if rule.when and any(event.attributes.get(k) != v for k, v in rule.when.items()):
                continue
            op = rule.op
            if op == "set":
                tags[rule.target] = _resolve(rule.value, event)
            elif op == "unset":
                tags.pop(rule.target, None)
            elif op == "count":
                self._count(rule, event, now)
            elif op == "increment":
                by, current = _resolve(rule.value, event), tags.get(rule.target, 0)
                if isinstance(by, bool) or not isinstance(by, (int, float)) or not isinstance(current, (int, float)):
                    raise UpdateError(f"tags.{rule.target}: cannot increment {current!r} by {by!r}")
                tags[rule.target] = current + by
            elif op in ("add", "remove"):
                value, current = _resolve(rule.value, event), tags.get(rule.target, ())
                if not isinstance(current, (list, tuple)):
                    raise UpdateError(f"tags.{rule.target}: {op} needs a list tag, it holds {current!r}")
                items = tuple(v for v in current if v != value)
                tags[rule.target] = items + (value,) if op == "add" else items
            elif op == "apply_product":
                product = products.get(_resolve(rule.target, event))
                if product is None:
                    continue  # most products carry no tags: owning them changes nothing here
                tags.update(product.sets)
                for tag in product.sets:
                    if product.lasts:
                        expiry[tag] = _utc(event.occurred_at + product.lasts).isoformat()
                    else:
                        expiry.pop(tag, None)
        self.applied[event.event_id] = now.iso
        if len(self.applied) > APPLIED_KEPT:  # insertion order: the oldest go first
            for old in list(self.applied)[:len(self.applied) - APPLIED_KEPT]:
                del self.applied[old]
        self.changed = True
        return True

    def _count(self, rule: Rule, event: CustomerEvent, now: Instant) -> None:
        assert rule.window is not None
        cutoff = now.ts - rule.window.total_seconds()
        seen = self.windows.setdefault(rule.target, {})
        at = event.occurred_at.timestamp()
        if at > cutoff:
            seen[event.event_id] = int(at)
        if min(seen.values(), default=cutoff + 1) <= cutoff:
            self.windows[rule.target] = seen = {k: t for k, t in seen.items() if t > cutoff}
        self.tags[rule.target] = len(seen)

    def profile(self) -> Profile:
        """The profile as it stands; the draft's next change copies before it writes."""
        if not self.changed:
            return self.base
        self._shared = True
        return self.base.model_copy(update={
            "tags": self.tags, "windows": self.windows, "expiry": self.expiry, "applied": self.applied})


def _utc(at: datetime) -> datetime:
    return at.astimezone(timezone.utc)


def apply(profile: Profile, event: CustomerEvent, rules: tuple[Rule, ...], products: dict[str, Product],
          now: datetime) -> Profile | None:
    """The profile after `event`, or None when it changes nothing (no rule, or already applied)."""
    draft = Draft(profile)
    return draft.profile() if draft.apply(event, rules, products, Instant(now)) else None


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
