"""The campaign index: which live campaigns an event triggers, and whose audience the customer is in.

Built once per set of live campaigns, it
- indexes campaigns by event type, then by the value of one equality/`in` test of `trigger.where`
  (so an event never looks at campaigns whose trigger attribute cannot match);
- compiles each bucket of campaigns into one straight-line Python function: every path read once
  per event, each audience a short-circuit chain of its top-level tests, cheapest and most
  selective first, so the first false test both rejects the campaign and names the reason.
Generated code contains only names and literals produced here; campaign values are passed as
constants, never pasted into source. The result must equal `naive.naive_match` (property-tested).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable

from marketing.domain.campaigns import Campaign
from marketing.domain.conditions import (
    EVENT,
    FIELD,
    MISSING,
    TAG,
    AllOf,
    AnyOf,
    Node,
    Not,
    Test,
    conjuncts,
    paths,
    within,
)

_NUM = frozenset({int, float})
_SEQ = frozenset({tuple, str})

# A rejected campaign and the text of the test that rejected it.
Rejection = tuple[Campaign, str]
GroupFn = Callable[[dict, dict, dict, float, Callable], list]


@dataclass(slots=True)
class Match:
    """Campaigns an event triggered: those whose audience holds, and those rejected with the reason."""

    eligible: list[Campaign] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def considered(self) -> int:
        return len(self.eligible) + len(self.rejected)


def describe(node: Node) -> str:
    """The reason text for a failed top-level test: its path, or the combinator over its paths."""
    if isinstance(node, Test):
        return node.path.text
    names = ",".join(dict.fromkeys(p.text for p in paths(node)))
    if isinstance(node, Not):
        return f"not({names})"
    return f"{'any' if isinstance(node, AnyOf) else 'all'}({names})"


def _rank(node: Node) -> tuple[int, int]:
    """Evaluation order: cheap, selective tests first; negations and time-dependent tests last."""
    if isinstance(node, Test):
        order = {"eq": 0, "in": 0, "exists": 1, "startswith": 1, "between": 2, "gt": 2, "gte": 2,
                 "lt": 2, "lte": 2, "contains": 3, "ne": 5, "nin": 5, "within": 6}[node.op]
        return (order, 0)
    return (4 if isinstance(node, AnyOf | AllOf) else 5, len(paths(node)))


class _Compiler:
    """Writes one group function; keeps the constants it refers to in `namespace`."""

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {"M": MISSING, "N": _NUM, "SEQ": _SEQ, "within": within}
        self.lines: list[str] = []
        self.hoisted: dict[tuple[str, str], str] = {}
        self._count = 0

    def const(self, value: Any) -> str:
        self._count += 1
        name = f"k{self._count}"
        self.namespace[name] = value
        return name

    def value(self, source: str, key: str) -> tuple[str, str]:
        """(setup, name): the expression that reads a path; hoisted names need no setup."""
        hoisted = self.hoisted.get((source, key))
        if hoisted:
            return "", hoisted
        self._count += 1
        name = f"x{self._count}"
        return f"({name} := {source}g({key!r}, M))", name

    def test(self, node: Test) -> str:
        setup, v = self.value(node.path.source, node.path.key)
        ref = setup or v
        op, operand = node.op, node.operand
        c = self.const(operand)
        match op:
            case "eq":
                return f"({ref} == {c})"
            case "ne":
                return f"({ref} != {c})"
            case "in":
                return f"({ref} in {c})"
            case "nin":
                return f"({ref} not in {c})"
            case "gt" | "gte" | "lt" | "lte":
                sym = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
                guard = f"{ref}.__class__ in N" if not isinstance(operand, str) else f"{ref}.__class__ is str"
                return f"({guard} and {v} {sym} {c})"
            case "between":
                lo, hi = self.const(operand[0]), self.const(operand[1])
                guard = f"{ref}.__class__ in N" if not isinstance(operand[0], str) else f"{ref}.__class__ is str"
                return f"({guard} and {lo} <= {v} <= {hi})"
            case "exists":
                return f"({ref} is not M)" if operand else f"({ref} is M)"
            case "contains":
                if isinstance(operand, str):
                    return f"({ref}.__class__ in SEQ and {c} in {v})"
                return f"({ref}.__class__ is tuple and {c} in {v})"
            case "startswith":
                return f"({ref}.__class__ is str and {v}.startswith({c}))"
            case "within":
                return f"within({ref}, now, {c})"
        raise ValueError(f"unknown operator {op!r}")

    def expr(self, node: Node) -> str:
        if isinstance(node, Test):
            return self.test(node)
        if isinstance(node, Not):
            return f"(not {self.expr(node.part)})"
        if not node.parts:
            return "True"
        joiner = " or " if isinstance(node, AnyOf) else " and "
        return "(" + joiner.join(self.expr(p) for p in node.parts) + ")"


def _audience_tests(campaign: Campaign) -> list[Node]:
    return [t for t in sorted(conjuncts(campaign.audience_rule), key=_rank) if not (isinstance(t, AllOf) and not t.parts)]


def _compile_group(entries: list[tuple[Campaign, tuple[Node, ...]]], tests_of: Callable[[Campaign], list[Node]] = _audience_tests,
                   prefix: list | None = None) -> GroupFn:
    """One function for a bucket: entries are (campaign, remaining where-tests).

    It returns one item per campaign: the prebuilt (campaign, reason) of the first false audience
    test, or a falsy value when the campaign is eligible (reported through `ok`) or not triggered.
    Constants are bound as default arguments, so the hot path reads only fast locals.
    """
    comp = _Compiler()
    # Read a path once up front only when it is the first test of several campaigns (first tests
    # always run); later tests mostly never run thanks to short-circuiting, so they read inline.
    uses: dict[tuple[str, str], int] = defaultdict(int)
    for campaign, where in entries:
        first = where[:1] or tests_of(campaign)[:1]
        for node in first:
            for p in paths(node):
                uses[(p.source, p.key)] += 1
    body = ["    ag = a.get; fg = f.get; tg = t.get"]
    for (source, key), count in uses.items():
        if count > 1:
            name = f"v{len(comp.hoisted)}"
            comp.hoisted[(source, key)] = name
            body.append(f"    {name} = {source}g({key!r}, M)")
    items = []
    for campaign, where in entries:
        tests = tests_of(campaign)
        verdict = f"ok({comp.const(campaign)})"
        for node in reversed(tests):
            verdict = f"{comp.const((campaign, describe(node)))} if not {comp.expr(node)} else {verdict}"
        if where:
            verdict = f"({' and '.join(comp.expr(w) for w in where)}) and ({verdict})"
        items.append(f"        ({verdict}),")
    body.append(f"    return {comp.const(prefix)} + [" if prefix else "    return [")
    body.extend(items)
    body.append("    ]")
    # constants become closure cells of a factory: fast to read, and free to pass on each call
    constants = ", ".join(name for name in comp.namespace if not name.startswith("__"))
    source = (f"def make({constants}):\n    def group(a, f, t, now, ok):\n"
              + "\n".join("    " + line for line in body) + "\n    return group\n")
    scope: dict[str, Any] = {}
    exec(compile(source, "<campaign-group>", "exec"), scope)  # noqa: S102 - names and literals only
    return scope["make"](**{k: v for k, v in comp.namespace.items() if not k.startswith("__")})


INDEX_MIN_SHARED = 3  # campaigns sharing an access path before indexing them pays off


def _access_tests(campaign: Campaign) -> list[Test]:
    return [t for t in conjuncts(campaign.audience_rule)
            if isinstance(t, Test) and t.op in ("eq", "in") and t.path.source in (FIELD, TAG)]


def _compile_partitioned(entries: list[tuple[Campaign, tuple[Node, ...]]]) -> GroupFn | None:
    """Large buckets: campaigns are indexed by the value of one equality/`in` audience test (the
    path most campaigns share). Per event, one dict lookup per shared path yields the prebuilt
    rejections of every campaign that test refuses and a compiled function for those it admits,
    so the cost follows the campaigns that can still match, not all live ones."""
    if not entries:
        return None
    shared: dict[tuple[str, str], int] = defaultdict(int)
    for campaign, where in entries:
        if not where:
            for test in _access_tests(campaign):
                shared[(test.path.source, test.path.key)] += 1
    chosen: dict[tuple[str, str], list[tuple[Campaign, Test]]] = defaultdict(list)
    residual: list[tuple[Campaign, tuple[Node, ...]]] = []
    for campaign, where in entries:
        options = [] if where else _access_tests(campaign)
        best = max(options, key=lambda t: shared[(t.path.source, t.path.key)], default=None)
        if best is None or shared[(best.path.source, best.path.key)] < INDEX_MIN_SHARED:
            residual.append((campaign, where))
        else:
            chosen[(best.path.source, best.path.key)].append((campaign, best))
    for path, members in list(chosen.items()):
        if len(members) < INDEX_MIN_SHARED:  # others took the shared path's campaigns; too few left
            residual.extend((c, ()) for c, _ in members)
            del chosen[path]
    if not chosen:
        return _compile_group(residual)
    comp = _Compiler()
    body = ["    fg = f.get; tg = t.get",
            f"    out = {comp.const(_compile_group(residual))}(a, f, t, now, ok)" if residual else "    out = []"]
    for (source, key), members in chosen.items():
        access = {c.id: test for c, test in members}
        rest = lambda c: [t for t in _audience_tests(c) if t is not access[c.id]]  # noqa: E731
        values: set[Any] = set()
        for _, test in members:
            values.update(test.operand if test.op == "in" else (test.operand,))
        table = {}
        for value in values:
            admits = {c.id for c, t in members if (value in t.operand if t.op == "in" else value == t.operand)}
            refused = [(c, describe(t)) for c, t in members if c.id not in admits]
            table[value] = _compile_group([(c, ()) for c, _ in members if c.id in admits], rest, refused)
        everyone = [(c, describe(t)) for c, t in members]
        body.append(f"    e = {comp.const(table)}.get({source}g({key!r}, M))")
        body.append(f"    out += {comp.const(everyone)} if e is None else e(a, f, t, now, ok)")
    body.append("    return out")
    constants = ", ".join(name for name in comp.namespace if not name.startswith("__"))
    source = (f"def make({constants}):\n    def group(a, f, t, now, ok):\n"
              + "\n".join("    " + line for line in body) + "\n    return group\n")
    scope: dict[str, Any] = {}
    exec(compile(source, "<campaign-index>", "exec"), scope)  # noqa: S102 - names and literals only
    return scope["make"](**{k: v for k, v in comp.namespace.items() if not k.startswith("__")})


def _index_key(campaign: Campaign) -> tuple[str, Test | None, tuple[Node, ...]]:
    """The where-test to index by (an eq/in on an event attribute), and the where-tests left over."""
    where = [w for w in conjuncts(campaign.where_rule) if not (isinstance(w, AllOf) and not w.parts)]
    for i, node in enumerate(where):
        if isinstance(node, Test) and node.path.source == EVENT and node.op in ("eq", "in"):
            rest = tuple(sorted(where[:i] + where[i + 1:], key=_rank))
            return node.path.key, node, rest
    return "", None, tuple(sorted(where, key=_rank))


class _TypeIndex:
    __slots__ = ("always", "by_attr")

    def __init__(self, campaigns: list[Campaign]):
        always: list[tuple[Campaign, tuple[Node, ...]]] = []
        buckets: dict[str, dict[Any, list[tuple[Campaign, tuple[Node, ...]]]]] = defaultdict(lambda: defaultdict(list))
        for campaign in campaigns:
            attr, test, rest = _index_key(campaign)
            if test is None:
                always.append((campaign, rest))
                continue
            values = test.operand if test.op == "in" else (test.operand,)
            for value in values:
                buckets[attr][value].append((campaign, rest))
        self.always: GroupFn | None = _compile_partitioned(always)
        self.by_attr: list[tuple[str, dict[Any, GroupFn]]] = [
            (attr, {value: _compile_group(entries) for value, entries in table.items()})
            for attr, table in buckets.items()
        ]


class CampaignIndex:
    """The live campaigns at `now`, indexed. Rebuild when campaigns change or `valid_until` passes."""

    def __init__(self, campaigns: Iterable[Campaign], now: datetime):
        all_campaigns = list(campaigns)
        live = [c for c in all_campaigns if c.live_at(now)]
        boundaries = [c.schedule.start for c in all_campaigns if c.schedule.start > now]
        boundaries += [c.schedule.end for c in live]
        self.valid_until: datetime | None = min(boundaries) if boundaries else None
        self.campaigns: dict[str, Campaign] = {c.id: c for c in live}
        by_type: dict[str, list[Campaign]] = defaultdict(list)
        for campaign in live:
            by_type[campaign.trigger.event].append(campaign)
        self._types = {event_type: _TypeIndex(group) for event_type, group in by_type.items()}

    def __len__(self) -> int:
        return len(self.campaigns)

    def stale(self, now: datetime) -> bool:
        return self.valid_until is not None and now >= self.valid_until

    def match(self, event_type: str, attrs: dict, fields: dict, tags: dict, now: float) -> Match:
        """`now` is epoch seconds (for `within`). attrs/fields/tags are the event's and profile's maps."""
        result = Match()
        index = self._types.get(event_type)
        if index is None:
            return result
        ok = result.eligible.append
        verdicts = index.always(attrs, fields, tags, now, ok) if index.always is not None else []
        for attr, table in index.by_attr:
            value = attrs.get(attr, MISSING)
            try:
                group = table.get(value)
            except TypeError:  # an unhashable attribute value matches no equality test
                group = None
            if group is not None:  # a campaign sits under one attribute, so it is visited at most once
                verdicts += group(attrs, fields, tags, now, ok)
        result.rejected = list(filter(None, verdicts))
        return result


def sources(attrs: dict, fields: dict, tags: dict) -> dict[str, dict]:
    return {EVENT: attrs, FIELD: fields, TAG: tags}
