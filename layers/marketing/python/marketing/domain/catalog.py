"""The event catalog: which event types exist and the typed attributes each carries (SPEC 4.1).

The catalog is data (events/catalog.yaml); adding an event type is an edit there, never code.
`EventCatalog.parse` turns one raw record into a CustomerEvent or raises `Rejected` with the
dead-letter reason; it must never let a malformed record through or raise anything else.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from marketing.domain.durations import parse_duration
from marketing.domain.models import CustomerEvent, DeadLetterReason, nesting_depth
from marketing.domain.profile_updates import Product, Rule, parse_products, parse_rules

ATTRIBUTE_TYPES = ("string", "integer", "number", "boolean", "timestamp", "string_list")


class Rejected(Exception):
    """A record that cannot be processed; `reason` is the dead-letter reason code."""

    def __init__(self, reason: DeadLetterReason, message: str):
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class AttributeSpec:
    name: str
    type: str
    required: bool = False

    def accepts(self, value: Any) -> bool:
        match self.type:
            case "string":
                return isinstance(value, str)
            case "integer":
                return isinstance(value, int) and not isinstance(value, bool)
            case "number":
                return isinstance(value, int | float) and not isinstance(value, bool)
            case "boolean":
                return isinstance(value, bool)
            case "timestamp":
                return isinstance(value, str) and _is_aware_timestamp(value)
            case "string_list":
                return isinstance(value, list) and all(isinstance(v, str) for v in value)
        return False


def _is_aware_timestamp(value: str) -> bool:
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


@dataclass(frozen=True)
class EventType:
    name: str
    family: str
    attributes: dict[str, AttributeSpec]
    source: str = ""
    description: str = ""
    updates: tuple[Rule, ...] = ()
    creates_profile: bool = False


@dataclass(frozen=True)
class EventCatalog:
    types: dict[str, EventType]
    max_age: timedelta = timedelta(hours=24)
    max_clock_skew: timedelta = timedelta(minutes=5)
    families: tuple[str, ...] = field(default=())
    products: dict[str, Product] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any], products: dict[str, Product] | None = None) -> EventCatalog:
        errors: list[str] = []
        types: dict[str, EventType] = {}
        for name, spec in (data.get("types") or {}).items():
            attributes: dict[str, AttributeSpec] = {}
            for attr_name, attr in (spec.get("attributes") or {}).items():
                attr_type = attr.get("type") if isinstance(attr, dict) else attr
                if attr_type not in ATTRIBUTE_TYPES:
                    errors.append(f"types.{name}.attributes.{attr_name}: unknown type {attr_type!r}")
                    continue
                required = bool(attr.get("required", False)) if isinstance(attr, dict) else False
                attributes[attr_name] = AttributeSpec(attr_name, attr_type, required)
            rules, rule_errors = parse_rules(spec.get("updates"), f"types.{name}")
            errors += rule_errors
            types[name] = EventType(
                name=name,
                family=spec.get("family", name.split(".")[0]),
                attributes=attributes,
                source=spec.get("source", ""),
                description=spec.get("description", ""),
                updates=rules,
                creates_profile=bool(spec.get("creates_profile", False)),
            )
        if errors:
            raise ValueError("invalid event catalog:\n" + "\n".join(errors))
        defaults = data.get("defaults") or {}
        return cls(
            types=types,
            max_age=parse_duration(defaults.get("max_age", "24h")),
            max_clock_skew=parse_duration(defaults.get("max_clock_skew", "5m")),
            families=tuple(sorted({t.family for t in types.values()})),
            products=products or {},
        )

    @classmethod
    def from_file(cls, path: str | Path) -> EventCatalog:
        """The catalog, with the product table `products.yaml` beside it when there is one."""
        products_file = Path(path).with_name("products.yaml")
        products = parse_products(yaml.safe_load(products_file.read_text(encoding="utf-8"))) \
            if products_file.exists() else {}
        return cls.from_dict(yaml.safe_load(Path(path).read_text(encoding="utf-8")), products)

    def __contains__(self, event_type: str) -> bool:
        return event_type in self.types

    def parse(self, raw: bytes | str | dict[str, Any], now: datetime) -> CustomerEvent:
        """Validate one record against the contract and the catalog; raise Rejected otherwise —
        whatever the record holds: any other exception while reading it is Rejected as unparseable."""
        try:
            return self._parse(raw, now)
        except Rejected:
            raise
        except Exception as exc:  # noqa: BLE001 — a record must never fail its batch
            raise Rejected(DeadLetterReason.UNPARSEABLE, f"{type(exc).__name__}: {str(exc)[:200]}") from None

    def _parse(self, raw: bytes | str | dict[str, Any], now: datetime) -> CustomerEvent:
        data = _decode(raw)
        try:
            event = CustomerEvent.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            missing = [".".join(map(str, e["loc"])) for e in exc.errors() if e["type"] == "missing"]
            if missing:
                raise Rejected(DeadLetterReason.MISSING_FIELD, f"missing {', '.join(missing)}") from None
            raise Rejected(DeadLetterReason.INVALID_FIELD, f"{where}: {first['msg']}") from None
        spec = self.types.get(event.event_type)
        if spec is None:
            raise Rejected(DeadLetterReason.UNKNOWN_EVENT_TYPE, f"event_type {event.event_type!r} is not in the catalog")
        problems = []
        given = data.get("attributes") if isinstance(data.get("attributes"), dict) else {}
        for attr in spec.attributes.values():
            value = given.get(attr.name)  # as upstream sent it (the event holds frozen copies)
            if value is None:
                if attr.required:
                    problems.append(f"attributes.{attr.name}: required by {spec.name}")
            elif not attr.accepts(value):
                problems.append(f"attributes.{attr.name}: expected {attr.type}, got {type(value).__name__} {value!r}")
        if problems:
            raise Rejected(DeadLetterReason.INVALID_ATTRIBUTE, "; ".join(problems))
        if event.occurred_at - now > self.max_clock_skew:
            raise Rejected(DeadLetterReason.IN_FUTURE, f"occurred_at {event.occurred_at.isoformat()} is in the future")
        if now - event.occurred_at > self.max_age:
            raise Rejected(DeadLetterReason.TOO_OLD, f"occurred_at {event.occurred_at.isoformat()} is older than {self.max_age}")
        return event


MAX_NESTING = 32  # an event's attributes are flat in practice; this is far past any upstream's
MAX_RECORD_BYTES = 128 * 1024  # the enriched record (event and profile) must fit Kinesis's 1 MiB


def _decode(raw: bytes | str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if len(raw) > MAX_RECORD_BYTES:
        raise Rejected(DeadLetterReason.INVALID_FIELD, f"record is {len(raw):,} bytes; an event is at most "
                                                       f"{MAX_RECORD_BYTES:,} (it travels on with its profile)")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Rejected(DeadLetterReason.NOT_JSON, f"record is not JSON: {exc}") from None
    except RecursionError:
        raise Rejected(DeadLetterReason.NOT_JSON, "record is nested too deeply to be an event") from None
    if not isinstance(data, dict):
        raise Rejected(DeadLetterReason.NOT_JSON, f"record is JSON {type(data).__name__}, not an object")
    if nesting_depth(data, MAX_NESTING) > MAX_NESTING:
        raise Rejected(DeadLetterReason.INVALID_FIELD, f"record nests lists and maps more than {MAX_NESTING} deep")
    if ("\\u" if isinstance(raw, str) else b"\\u") in raw:
        try:  # an escaped lone surrogate (\udc80) decodes, but no text can carry it on
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise Rejected(DeadLetterReason.INVALID_FIELD, "record holds an escaped lone surrogate: not text") from None
    return data
