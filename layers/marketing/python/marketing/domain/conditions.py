"""The condition language of SPEC 4.3: parsed once into a small tree, with every error located.

Semantics, shared by the compiled matcher and the naive reference:
- a map of several keys is AND; `any` is OR, `all` is AND, `not` negates;
- a missing path fails every positive test (eq, in, gt.., between, contains, startswith,
  exists: true, within) and passes `ne`, `nin` and `exists: false` (missing equals nothing);
- gt/gte/lt/lte/between hold only for number-vs-number (bool is not a number) or string-vs-string;
  a type mix is false, never an exception.
Parsing must never raise on bad input: it returns errors instead.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Mapping

from marketing.domain.durations import parse_duration
from marketing.domain.models import PROFILE_FIELDS, freeze
from marketing.domain.tags import test_problem, unknown_tag

OPERATORS = ("eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "between", "exists", "contains", "startswith", "within")
COMBINATORS = ("any", "all", "not")
COMPARISONS = ("gt", "gte", "lt", "lte")


class _Missing:
    """The value of a path that is not there. Equal to nothing, hashable, falsy in no test by accident."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()

# Where a path reads from: event attributes, profile fields, profile tags.
EVENT, FIELD, TAG = "a", "f", "t"


@dataclass(frozen=True, slots=True)
class Path:
    source: str  # EVENT | FIELD | TAG
    key: str
    text: str    # as written, for messages and reasons


@dataclass(frozen=True, slots=True)
class Test:
    path: Path
    op: str
    operand: Any


@dataclass(frozen=True, slots=True)
class AllOf:
    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    part: Node


Node = Test | AllOf | AnyOf | Not

TRUE = AllOf(())


@dataclass(frozen=True, slots=True)
class LocatedError:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


@dataclass(frozen=True)
class Scope:
    """How bare paths resolve: in `trigger.where` they name event attributes, elsewhere profile fields.

    `event_attributes` (from the catalog) lets unknown event attributes be refused; None accepts any.
    """

    bare: str = FIELD
    event_attributes: frozenset[str] | None = None
    # the tag dictionary (name → type, domain.tags): given, unknown tags and ill-typed tests are refused
    tag_types: Mapping[str, str] | None = None


def parse(mapping: Any, where: str, scope: Scope = Scope()) -> tuple[Node, list[LocatedError]]:
    errors: list[LocatedError] = []
    node = _parse_map(mapping, where, scope, errors)
    return node, errors


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _parse_map(mapping: Any, where: str, scope: Scope, errors: list[LocatedError]) -> Node:
    if mapping is None:
        return TRUE
    if not isinstance(mapping, dict):
        errors.append(LocatedError(where, f"expected a map of conditions, got {type(mapping).__name__}"))
        return TRUE
    parts: list[Node] = []
    for key, spec in mapping.items():
        at = _join(where, str(key))
        if key in ("any", "all"):
            if not isinstance(spec, list) or not spec:
                errors.append(LocatedError(at, f"'{key}' takes a non-empty list of conditions"))
                continue
            children = tuple(_parse_map(item, f"{at}[{i}]", scope, errors) for i, item in enumerate(spec))
            parts.append(AnyOf(children) if key == "any" else AllOf(children))
        elif key == "not":
            parts.append(Not(_parse_map(spec, at, scope, errors)))
        else:
            path = _parse_path(str(key), at, scope, errors)
            tests = _parse_tests(path, spec, at, errors, scope)
            if path is not None:
                parts.extend(tests)
    return parts[0] if len(parts) == 1 else AllOf(tuple(parts))


def _parse_path(text: str, at: str, scope: Scope, errors: list[LocatedError]) -> Path | None:
    head, _, rest = text.partition(".")
    if head == "tags":
        if not rest:
            errors.append(LocatedError(at, "'tags.' needs a tag name"))
            return None
        if scope.tag_types is not None and rest not in scope.tag_types:
            errors.append(LocatedError(at, unknown_tag(rest, scope.tag_types)))
            return None
        return Path(TAG, rest, text)
    if head == "event" or scope.bare == EVENT:  # in trigger.where every non-tag path is an event attribute
        key = rest if head == "event" else text
        if not key:
            errors.append(LocatedError(at, "'event.' needs an attribute name"))
            return None
        if scope.event_attributes is not None and key not in scope.event_attributes:
            known = ", ".join(sorted(scope.event_attributes)) or "none"
            errors.append(LocatedError(at, f"unknown event attribute '{key}' (this event type has: {known})"))
            return None
        return Path(EVENT, key, text)
    if text in PROFILE_FIELDS:
        return Path(FIELD, text, text)
    errors.append(LocatedError(at, f"unknown path '{text}' (use a profile field, tags.NAME or event.NAME)"))
    return None


def _parse_tests(path: Path | None, spec: Any, at: str, errors: list[LocatedError],
                 scope: Scope = Scope()) -> list[Node]:
    if not isinstance(spec, dict):
        if isinstance(spec, list):
            errors.append(LocatedError(at, "a list is not a value: write {in: [...]} to match any of them"))
            return []
        if path is not None and path.source == TAG and scope.tag_types is not None:
            problem = test_problem(path.key, scope.tag_types[path.key], "eq", spec)
            if problem:
                errors.append(LocatedError(at, problem))
                return []
        return [Test(path, "eq", spec)] if path else []
    if not spec:
        errors.append(LocatedError(at, "empty operator map"))
        return []
    tests: list[Node] = []
    for op, operand in spec.items():
        if op not in OPERATORS:
            errors.append(LocatedError(at, f"unknown operator '{op}' (operators: {', '.join(OPERATORS)})"))
            continue
        problem, value = _check_operand(op, operand)
        if not problem and path is not None and path.source == TAG and scope.tag_types is not None:
            problem = test_problem(path.key, scope.tag_types[path.key], op, operand)
        if problem:
            errors.append(LocatedError(f"{at}.{op}", problem))
        elif path is not None:
            tests.append(Test(path, op, value))
    return tests


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _check_operand(op: str, operand: Any) -> tuple[str | None, Any]:
    match op:
        case "eq" | "ne" | "contains":
            if not _is_scalar(operand):
                return f"'{op}' takes a single value, got {type(operand).__name__}", None
            return None, operand
        case "in" | "nin":
            if not isinstance(operand, list) or not operand or not all(_is_scalar(v) for v in operand):
                return f"'{op}' takes a non-empty list of values", None
            return None, frozenset(operand)
        case "gt" | "gte" | "lt" | "lte":
            if not (_is_number(operand) or isinstance(operand, str)):
                return f"'{op}' takes a number or a string, got {operand!r}", None
            return None, operand
        case "between":
            if (
                not isinstance(operand, list)
                or len(operand) != 2
                or not (all(_is_number(v) for v in operand) or all(isinstance(v, str) for v in operand))
            ):
                return "'between' takes [low, high], two numbers or two strings", None
            if operand[0] > operand[1]:
                return f"'between' low {operand[0]!r} is above high {operand[1]!r}", None
            return None, (operand[0], operand[1])
        case "exists":
            if not isinstance(operand, bool):
                return "'exists' takes true or false", None
            return None, operand
        case "startswith":
            if not isinstance(operand, str):
                return "'startswith' takes a string", None
            return None, operand
        case "within":
            try:
                return None, parse_duration(operand).total_seconds()
            except ValueError as exc:
                return str(exc), None
    return f"unknown operator '{op}'", None


# ---------------------------------------------------------------- evaluation of one test

def compare(op: str, value: Any, operand: Any) -> bool:
    """gt/gte/lt/lte with the language's typing rule (numbers with numbers, strings with strings)."""
    if _is_number(operand):
        if not _is_number(value):
            return False
    elif not (isinstance(operand, str) and isinstance(value, str)):
        return False
    match op:
        case "gt":
            return value > operand
        case "gte":
            return value >= operand
        case "lt":
            return value < operand
    return value <= operand


@lru_cache(maxsize=65536)
def timestamp_seconds(value: str) -> float | None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.timestamp() if parsed.tzinfo else None


def within(value: Any, now: float, seconds: float) -> bool:
    if not isinstance(value, str):
        return False
    at = timestamp_seconds(value)
    return at is not None and now - at <= seconds


def test_value(op: str, value: Any, operand: Any, now: float) -> bool:
    match op:
        case "eq":
            return value is not MISSING and value == operand
        case "ne":
            return value is MISSING or value != operand
        case "in":
            return value is not MISSING and value in operand
        case "nin":
            return value is MISSING or value not in operand
        case "gt" | "gte" | "lt" | "lte":
            return compare(op, value, operand)
        case "between":
            low, high = operand
            return compare("gte", value, low) and compare("lte", value, high)
        case "exists":
            return (value is not MISSING) == operand
        case "contains":
            if isinstance(value, tuple):
                return operand in value
            return isinstance(value, str) and isinstance(operand, str) and operand in value
        case "startswith":
            return isinstance(value, str) and value.startswith(operand)
        case "within":
            return within(value, now, operand)
    raise ValueError(f"unknown operator {op!r}")


def evaluate(node: Node, sources: dict[str, dict[str, Any]], now: float) -> bool:
    """Interpret a parsed tree. `sources` maps EVENT/FIELD/TAG to their value maps."""
    if isinstance(node, Test):
        value = sources[node.path.source].get(node.path.key, MISSING)
        return test_value(node.op, freeze(value), node.operand, now)
    if isinstance(node, AllOf):
        return all(evaluate(p, sources, now) for p in node.parts)
    if isinstance(node, AnyOf):
        return any(evaluate(p, sources, now) for p in node.parts)
    return not evaluate(node.part, sources, now)


def conjuncts(node: Node) -> tuple[Node, ...]:
    """The top-level AND parts of a tree (a single test is one part)."""
    if isinstance(node, AllOf):
        out: list[Node] = []
        for part in node.parts:
            out.extend(conjuncts(part))
        return tuple(out)
    return (node,)


def paths(node: Node) -> list[Path]:
    if isinstance(node, Test):
        return [node.path]
    if isinstance(node, Not):
        return paths(node.part)
    out: list[Path] = []
    for part in node.parts:
        out.extend(paths(part))
    return out
