"""The tag dictionary as the contract (events/tags.yaml): which `tags.X` exist, of which type, and
which tests and values fit each type. Pure: the dictionary comes in as data.

Campaign validation (domain.conditions, with a dictionary) refuses an unknown tag with a
did-you-mean and a test whose operand does not fit the tag's type; profile import checks each
tag value against its type.
"""
from __future__ import annotations

import difflib
import re
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

TYPES = ("string", "integer", "number", "boolean", "timestamp", "string_list")
# the operators each type's values can be tested with (eq/ne/exists fit every type)
_OPERATORS = {
    "string": {"eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "between", "startswith", "contains", "exists"},
    "integer": {"eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "between", "exists"},
    "number": {"eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "between", "exists"},
    "boolean": {"eq", "ne", "in", "nin", "exists"},
    "timestamp": {"eq", "ne", "gt", "gte", "lt", "lte", "between", "within", "exists"},
    "string_list": {"contains", "exists"},
}


def load_tag_types(path: str | Path) -> dict[str, str]:
    """Tag name → declared type from a tag dictionary file."""
    tags = (yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}).get("tags") or {}
    return {name: str(spec.get("type", "")) for name, spec in tags.items() if isinstance(spec, dict)}


def unknown_tag(name: str, types: Mapping[str, str]) -> str:
    close = difflib.get_close_matches(name, list(types), n=1, cutoff=0.6)
    hint = f"; did you mean 'tags.{close[0]}'?" if close else ""
    return f"unknown tag 'tags.{name}' (not in the tag dictionary){hint}"


def _a(kind: str) -> str:
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind.replace('_', ' ')}"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def value_problem(kind: str, value: Any) -> str | None:
    """Why `value` is not a value of a `kind` tag; None when it is (None fits every type)."""
    if value is None:
        return None
    match kind:
        case "string":
            ok = isinstance(value, str)
        case "integer":
            ok = isinstance(value, int) and not isinstance(value, bool)
        case "number":
            ok = _number(value)
        case "boolean":
            ok = isinstance(value, bool)
        case "timestamp":
            try:
                ok = isinstance(value, str) and datetime.fromisoformat(value) is not None
            except ValueError:
                ok = False
        case "string_list":
            ok = isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
        case _:
            return None
    return None if ok else f"expected {_a(kind)}, got {value!r}"


def test_problem(name: str, kind: str, op: str, operand: Any) -> str | None:
    """Why `tags.name op operand` cannot fit a `kind` tag; None when it can."""
    if kind not in _OPERATORS:
        return None
    if op not in _OPERATORS[kind]:
        fits = ", ".join(sorted(_OPERATORS[kind]))
        return f"'{op}' does not apply to tags.{name}, {_a(kind)} tag (use {fits})"
    if op in ("exists", "within"):
        return None
    if kind == "string_list":  # contains: one item of the list
        values, kind = [operand], "string"
    else:
        values = list(operand) if op in ("in", "nin", "between") else [operand]
    for value in values:
        fits = _number(value) if kind in ("integer", "number") else value_problem(kind, value) is None
        if not fits and value is not None:
            return f"tags.{name} is {_a(kind)} tag: '{op}' {value!r} does not fit it"
    return None


PROFILE_STATUSES = ("active", "suspended", "closed")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


@lru_cache(maxsize=1024)
def _zone(name: str) -> bool:
    try:
        ZoneInfo(name)
        return True
    except (ZoneInfoNotFoundError, ValueError):
        return False


def profile_problems(data: Mapping[str, Any], types: Mapping[str, str]) -> list[str]:
    """Every field of a profile record (SPEC 4.2, as imported) that is not what the contract says:
    status, an E.164 MSISDN, an IANA timezone, each dictionary tag's value of its type."""
    problems = []
    status = data.get("status")
    if status is not None and status not in PROFILE_STATUSES:
        close = difflib.get_close_matches(str(status), PROFILE_STATUSES, n=1)
        problems.append(f"status: {status!r} is not one of {', '.join(PROFILE_STATUSES)}"
                        + (f"; did you mean {close[0]!r}?" if close else ""))
    msisdn = data.get("msisdn")
    if msisdn is not None and not (isinstance(msisdn, str) and _E164.fullmatch(msisdn)):
        problems.append(f"msisdn: {msisdn!r} is not an E.164 number (+ country code and number, e.g. +8613800000001)")
    zone = data.get("timezone")
    if zone is not None and not (isinstance(zone, str) and _zone(zone)):
        problems.append(f"timezone: {zone!r} is not an IANA timezone (e.g. Asia/Shanghai)")
    tags = data.get("tags")
    if isinstance(tags, Mapping):
        for name, value in tags.items():
            problem = value_problem(types[name], value) if name in types else None
            if problem:
                problems.append(f"tags.{name}: {problem}")
    return problems
