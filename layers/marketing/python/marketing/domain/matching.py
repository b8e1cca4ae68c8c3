"""The campaign index: which live campaigns an event triggers, and whose audience the customer is in.

Built once per set of live campaigns, it
- indexes campaigns by event type, then by the value of one equality/`in` test of `trigger.where`
  (so an event never looks at campaigns whose trigger attribute cannot match);
- compiles each bucket of campaigns into one straight-line Python function: each audience a
  short-circuit chain of its top-level tests, cheapest and most selective first, so the first
  false test both rejects the campaign and names the reason; a path many tests read is read once,
  a test several campaigns make is evaluated once;
- evaluates a large bucket whose trigger is settled on bitsets (`_BitGroup`).
Generated source contains only names made here and placeholder literals; campaign values go
straight into the code object's constants, never into source text. The result must equal
`naive.naive_match` (property-tested).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from itertools import repeat
from types import CodeType, FunctionType
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


class Match:
    """Campaigns an event triggered: those whose audience holds, and those rejected with the reason.

    Rejections are kept as the groups produced them and listed only when someone reads `rejected`:
    an event can be judged against thousands of campaigns. A compiled group's part is a list: its
    table of rejections first, then per campaign the number of the test that refused it (an index
    into the campaign's row of the table), or None or False for a campaign eligible or not
    triggered. A large group's part is a `BitRejections`."""

    __slots__ = ("eligible", "parts", "_rejected")

    def __init__(self, eligible: list[Campaign] | None = None, rejected: list[Rejection] | None = None) -> None:
        self.eligible: list[Campaign] = eligible if eligible is not None else []
        self.parts: list[Any] = [[(None, *((None, r) for r in rejected)), *repeat(1, len(rejected))]] if rejected else []
        self._rejected: list[Rejection] | None = None

    @property
    def rejected(self) -> list[Rejection]:
        if self._rejected is None:
            out: list[Rejection] = []
            for part in self.parts:
                if part.__class__ is list:
                    # row i of the table is for item i; item 0 is the table itself (its row is None)
                    out.extend([row[code] for row, code in zip(part[0], part) if code.__class__ is int])
                else:
                    out.extend(part)
            self._rejected = out
        return self._rejected

    def rejected_count(self) -> int:
        if self._rejected is not None:
            return len(self._rejected)
        count = 0
        for part in self.parts:
            # the truthy items of a compiled group's list: the table and a number per refused campaign
            count += len([*filter(None, part)]) - 1 if part.__class__ is list else part.count()
        return count

    @property
    def considered(self) -> int:
        return len(self.eligible) + self.rejected_count()


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


_READ_TWICE = frozenset({"gt", "gte", "lt", "lte", "between", "contains", "startswith"})  # type check, then test
_PLACEHOLDER = "\x00"  # starts the literal that stands for a constant in generated source


class _Compiler:
    """Writes one compiled function. Every value its code refers to (campaign operands, reasons,
    paths, MISSING) is a placeholder literal in the source and goes into the code object's constant
    table when it is built (`_build`): campaign values never become source text, and a constant
    costs one tuple read where it is used (closure cells would all be copied on every call, and
    globals cost a dict probe). Functions it calls, and what `is` compares with, are the few
    globals in `names` (Python warns about `is` with a literal)."""

    def __init__(self) -> None:
        self.constants: dict[str, Any] = {}
        self.names: dict[str, Any] = {"within": within, "map": map, "type": type, "str": str, "tuple": tuple, "M": MISSING}
        self.hoisted: dict[tuple[str, str], str] = {}
        self.shared: dict[tuple, str] = {}  # tests evaluated once up front: their local's name
        self.sources: set[str] = set()
        self._count = 0
        self.M, self.N, self.SEQ = self.const(MISSING), self.const(_NUM), self.const(_SEQ)

    def const(self, value: Any) -> str:
        """The source text that stands for `value`."""
        self._count += 1
        placeholder = f"{_PLACEHOLDER}k{self._count}"
        self.constants[placeholder] = value
        return repr(placeholder)

    def getter(self, source: str) -> str:
        """The local bound to the `get` of a source's map (`_build` binds those used)."""
        self.sources.add(source)
        return f"{source}g"

    def value(self, source: str, key: str, twice: bool) -> tuple[str, str]:
        """(first, then): the expressions that read a path's value the first time and after.
        A hoisted path is a local already; otherwise the value is read where the test needs it,
        into the scratch local `x` when the test reads it twice (no test reads another's `x`)."""
        hoisted = self.hoisted.get((source, key))
        if hoisted:
            return hoisted, hoisted
        read = f"{self.getter(source)}({self.const(key)}, {self.M})"
        return (f"(x := {read})", "x") if twice else (read, "")

    def test(self, node: Test) -> str:
        shared = self.shared.get(_test_key(node))
        if shared:
            return shared
        op, operand = node.op, node.operand
        ref, v = self.value(node.path.source, node.path.key, op in _READ_TWICE)
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
                guard = f"type({ref}) in {self.N}" if not isinstance(operand, str) else f"type({ref}) is str"
                return f"({guard} and {v} {sym} {c})"
            case "between":
                lo, hi = self.const(operand[0]), self.const(operand[1])
                guard = f"type({ref}) in {self.N}" if not isinstance(operand[0], str) else f"type({ref}) is str"
                return f"({guard} and {lo} <= {v} <= {hi})"
            case "exists":
                return f"({ref} is not M)" if operand else f"({ref} is M)"
            case "contains":
                if isinstance(operand, str):
                    return f"(type({ref}) in {self.SEQ} and {c} in {v})"
                return f"(type({ref}) is tuple and {c} in {v})"
            case "startswith":
                return f"(type({ref}) is str and {v}.startswith({c}))"
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


def _audience_tests(campaign: Campaign) -> tuple[Node, ...]:
    return tuple(t for t in sorted(conjuncts(campaign.audience_rule), key=_rank) if not (isinstance(t, AllOf) and not t.parts))


# A campaign as a compiled bucket sees it: (campaign, where-tests still to check, audience tests still to check)
Entry = tuple[Campaign, tuple[Node, ...], tuple[Node, ...]]


def _build(comp: _Compiler, body: list[str], name: str, signature: str = "a, f, t, now, ok") -> Callable:
    """Compile `body` as a function of `signature`, its placeholders replaced by their values."""
    getters = [f"    {s}g = {s}.get" for s in sorted(comp.sources)]
    source = f"def compiled({signature}):\n" + "\n".join(getters + body) + "\n"
    module = compile(source, name, "exec")  # names and placeholder literals only
    code = next(c for c in module.co_consts if isinstance(c, CodeType))
    table, consts = comp.constants, []
    for constant in code.co_consts:
        if constant.__class__ is str and constant in table:
            consts.append(table[constant])
        elif _folded(constant):
            raise AssertionError(f"{name}: Python folded a placeholder into the constant {constant!r}")
        else:
            consts.append(constant)
    return FunctionType(code.replace(co_consts=tuple(consts)), {"__builtins__": {}, **comp.names}, "compiled")


def _folded(constant: Any) -> bool:
    if isinstance(constant, str):
        return constant.startswith(_PLACEHOLDER)
    return isinstance(constant, tuple | frozenset) and any(_folded(c) for c in constant)


def _test_key(node: Test) -> tuple:
    """Equal keys, same test. Operands are keyed with their types, so values Python calls equal
    across types (1, 1.0, true) never merge two tests a reader would tell apart."""
    operand = node.operand
    typed = frozenset((v.__class__, v) for v in operand) if isinstance(operand, frozenset) else \
        tuple((v.__class__, v) for v in operand) if isinstance(operand, tuple) else (operand.__class__, operand)
    return node.path.source, node.path.key, node.op, typed


def _path_of(node: Node) -> tuple[str, str] | None:
    return (node.path.source, node.path.key) if isinstance(node, Test) else None


def _first_tests_on_shared_paths(entries: list[Entry]) -> list[Entry]:
    """The entries, each campaign's first test chosen among its equally ranked first tests so that
    the first tests of the group read as few distinct paths as it can (a greedy cover: the path
    most campaigns could test first, then the next). First tests always run, and a path several
    of them read is read once (`_compile_group` hoists it)."""
    fronts = [{_path_of(n) for n in tests if _path_of(n) and _rank(n) == _rank(tests[0])} if tests else set()
              for _, _, tests in entries]
    chosen: dict[int, tuple[str, str]] = {}
    left = {i for i, front in enumerate(fronts) if front}
    while left:
        counts = Counter(path for i in left for path in fronts[i])
        path = max(counts, key=lambda p: (counts[p], p))
        for i in [i for i in left if path in fronts[i]]:
            chosen[i] = path
            left.remove(i)
    out = []
    for i, (campaign, where, tests) in enumerate(entries):
        if i in chosen:
            at = next(j for j, n in enumerate(tests) if _path_of(n) == chosen[i] and _rank(n) == _rank(tests[0]))
            tests = (tests[at], *tests[:at], *tests[at + 1:])
        out.append((campaign, where, tests))
    return out


def _compile_group(entries: list[Entry]) -> GroupFn:
    """One straight-line function for a bucket of campaigns.

    It returns a list (see `Match`): the table of the group's rejections, then per campaign the
    number of its first false audience test (a small int: a shared object, unlike a rejection, so
    refusing a campaign touches no memory of its own), or a falsy value when the campaign is
    eligible (reported through `ok`) or not triggered (a where-test is false).
    """
    entries = _first_tests_on_shared_paths(entries)
    comp = _Compiler()
    # Read a path once up front when several campaigns' first tests read it (first tests always
    # run) or many tests do; other paths are read inline, only if a test gets that far (reading
    # up front what no test reaches costs more than it saves: profiles are rarely in cache).
    first: dict[tuple[str, str], int] = defaultdict(int)
    every: dict[tuple[str, str], int] = defaultdict(int)
    for campaign, where, tests in entries:
        for node in (where or tests)[:1]:
            for p in paths(node):
                first[(p.source, p.key)] += 1
        for node in (*where, *tests):
            for p in paths(node):
                every[(p.source, p.key)] += 1
    body: list[str] = []
    hoisted: dict[str, list[str]] = defaultdict(list)
    for (source, key), count in every.items():
        if first[(source, key)] > 1 or count > 6:
            comp.hoisted[(source, key)] = f"v{len(comp.hoisted)}"
            hoisted[source].append(key)
    if hoisted:
        repeat_missing = comp.const(repeat(MISSING))
    for source, keys in hoisted.items():
        # one `map` over the keys: cheaper per path than a call from bytecode
        names = ", ".join(comp.hoisted[(source, key)] for key in keys)
        body.append(f"    {names}, = map({comp.getter(source)}, {comp.const(tuple(keys))}, {repeat_missing})")
    # A test several campaigns make (`status: active`, a locale) is evaluated once, up front, when
    # it comes first for one of them (so it would run anyway) or three campaigns make it.
    made: dict[tuple, list[tuple[int, Test]]] = defaultdict(list)
    for campaign, where, tests in entries:
        for position, node in enumerate(tests):
            if isinstance(node, Test):
                made[_test_key(node)].append((position, node))
    for key, uses in made.items():
        if len(uses) > 2 or len(uses) == 2 and min(position for position, _ in uses) == 0:
            expr = comp.test(uses[0][1])
            comp.shared[key] = f"s{len(comp.shared)}"
            body.append(f"    {comp.shared[key]} = {expr}")
    items = []
    table: list[tuple | None] = [None]
    for campaign, where, tests in entries:
        verdict = f"ok({comp.const(campaign)})"
        for number in range(len(tests), 0, -1):
            verdict = f"{number} if not {comp.expr(tests[number - 1])} else {verdict}"
        if where:
            verdict = f"({' and '.join(comp.expr(w) for w in where)}) and ({verdict})"
        items.append(f"        ({verdict}),")
        table.append((None, *((campaign, describe(node)) for node in tests)))
    body.append(f"    return [{comp.const(tuple(table))},")
    body.extend(items)
    body.append("    ]")
    return _build(comp, body, "<campaign-group>")


BITSET_MIN_GROUP = 256  # from this many campaigns in one bucket, evaluate audiences path by path on bitsets


class BitRejections:
    """The audience rejections of one event in a bitset group: per path, the bits it dropped
    (worked out again from the event's inputs when listed)."""

    __slots__ = ("group", "inputs", "dropped")

    def __init__(self, group: _BitGroup, a: dict, f: dict, t: dict, dropped: int):
        # which path dropped which campaigns is found again only when the rejections are listed
        # (the event's and profile's maps are values: nobody mutates them in between)
        self.group, self.inputs, self.dropped = group, (a, f, t), dropped

    def count(self) -> int:
        return self.dropped

    def __iter__(self):
        reasons, group = self.group.reasons, self.group
        drops = group.scan(*self.inputs)[1]  # flat: (path index, bits, value) after one another
        for at in range(0, len(drops), 3):
            path_index, bits, value = drops[at:at + 3]
            row = reasons[path_index]
            while bits:
                low = bits & -bits
                reason = row[low.bit_length() - 1]
                # several tests on one path: name the one this value fails
                yield reason if reason.__class__ is tuple else group.first_failing(path_index, reason, value)
                bits ^= low


# the operators whose outcome on a value follows from a class computed without the campaigns
_CLASSIFIABLE = frozenset({"eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "between", "exists", "startswith", "contains"})
OTHER = ("other",)  # the value class of values no test on a path can tell apart
ABSENT = ("absent",)  # the value class of a missing value


def _leaves(node: Node) -> list[Test]:
    if isinstance(node, Test):
        return [node]
    if isinstance(node, Not):
        return _leaves(node.part)
    return [leaf for part in node.parts for leaf in _leaves(part)]


def _path_local(node: Node) -> tuple[str, str] | None:
    """The one path a test reads (None if it reads several, or depends on the clock)."""
    found = {(p.source, p.key) for p in paths(node)}
    if len(found) != 1 or _reads_clock(node):
        return None
    return next(iter(found))


def _reads_clock(node: Node) -> bool:
    if isinstance(node, Test):
        return node.op == "within"
    if isinstance(node, Not):
        return _reads_clock(node.part)
    return any(_reads_clock(p) for p in node.parts)


class _BitGroup:
    """A large bucket evaluated on bitsets: bit i is campaign i. For each path the campaigns test,
    the mask of campaigns whose tests on that path hold depends only on the path's value, so it is
    computed once per distinct value class (the value itself for categories, its interval between
    the thresholds for numbers) and kept. An event then costs one lookup and one AND per path; only
    the few campaigns left are checked for their tests that span several paths."""

    def __init__(self, entries: list[Entry]):
        from bisect import bisect_left

        self._bisect = bisect_left
        self.campaigns = [c for c, _, _ in entries]
        size = len(entries)
        self.all = (1 << size) - 1
        self.size = size
        by_path: dict[tuple[str, str], list[tuple[int, list[Node]]]] = defaultdict(list)
        residual: dict[int, list[Node]] = {}
        for i, (campaign, where, tests) in enumerate(entries):
            local: dict[tuple[str, str], list[Node]] = defaultdict(list)
            for node in tests:  # (bitset groups hold only campaigns whose trigger is fully indexed)
                path = _path_local(node)
                if path is None:
                    residual.setdefault(i, []).append(node)
                else:
                    local[path].append(node)
            for path, nodes in local.items():
                by_path[path].append((i, nodes))
        ordered = sorted(by_path.items(), key=lambda item: -len(item[1]))  # paths most campaigns test first
        self.paths = [path for path, _ in ordered]
        self.members = [members for _, members in ordered]
        self.free = [self.all & ~sum(1 << i for i, _ in members) for members in self.members]  # untested there
        self.reasons: list[list[Rejection | None]] = []
        for members in self.members:
            row: list[Rejection | None] = [None] * size
            for i, nodes in members:
                ranked = sorted(nodes, key=_rank)
                row[i] = (self.campaigns[i], describe(ranked[0])) if len(ranked) == 1 else \
                    [(node, (self.campaigns[i], describe(node))) for node in ranked]
            self.reasons.append(row)
        self.keyers = [self._keyer(members) for members in self.members]
        self.memo: list[dict[Any, int]] = [{} for _ in self.members]
        self.residual = {i: (self.campaigns[i], tuple(nodes)) for i, nodes in residual.items()}
        self.residual_mask = sum(1 << i for i in residual)
        self.checks = {i: _compile_residual(campaign, nodes) for i, (campaign, nodes) in self.residual.items()}
        self.scan = self._compile_scan(record=True)
        self.quick = self._compile_scan(record=False)

    def _compile_scan(self, record: bool) -> Callable[[dict, dict, dict], Any]:
        """Straight-line code over the paths: for categories a prefilled value → mask table, for
        numbers a bisect into prefilled interval masks, other paths through the memo. It returns
        the campaigns left; when recording, with the bits each path dropped (to name reasons)."""
        comp = _Compiler()
        comp.names.update({"bl": self._bisect, "miss": self._miss})
        body = [f"    alive = {comp.const(self.all)}"] + (["    drops = []"] if record else [])
        for j, ((source, name), members) in enumerate(zip(self.paths, self.members)):
            leaves = [leaf for _, nodes in members for node in nodes for leaf in _leaves(node)]
            read = f"{comp.getter(source)}({comp.const(name)}, {comp.M})"
            if all(leaf.op in ("eq", "ne", "in", "nin") for leaf in leaves):
                named = {v for leaf in leaves for v in (leaf.operand if leaf.op in ("in", "nin") else (leaf.operand,))}
                table = {v: self.all ^ self._mask(j, None, v, keep=False) for v in named}
                body.append(f"    v = {read}")
                body.append(f"    d = alive & {comp.const(table)}.get(v, {comp.const(self.all ^ self._mask(j, None, MISSING, keep=False))})")
            elif all(leaf.op in ("gt", "gte", "lt", "lte", "between") and leaf.operand.__class__ is not str
                     and not (leaf.op == "between" and isinstance(leaf.operand[0], str)) for leaf in leaves):
                bounds = sorted({b for leaf in leaves for b in (leaf.operand if leaf.op == "between" else (leaf.operand,))})
                masks = []
                for i in range(len(bounds) + 1):
                    below = bounds[i - 1] if i else bounds[0] - 1
                    above = bounds[i] if i < len(bounds) else bounds[-1] + 1
                    masks.append(self._mask(j, None, (below + above) / 2 if i and i < len(bounds) else
                                            (bounds[0] - 1 if i == 0 else bounds[-1] + 1), keep=False))
                    if i < len(bounds):
                        masks.append(self._mask(j, None, bounds[i], keep=False))
                b, tab = comp.const(bounds), comp.const([self.all ^ m for m in masks])
                body.append(f"    v = {read}")
                body.append(f"    if type(v) in {comp.N}: i = bl({b}, v); d = alive & {tab}[2 * i + (i < {len(bounds)} and {b}[i] == v)]")
                body.append(f"    else: d = alive & {comp.const(self.all ^ self._mask(j, None, MISSING, keep=False))}")
            else:
                body.append(f"    v = {read}")
                body.append(f"    d = alive & ~miss({j}, v)")
            body.append("    if d:")  # the campaigns this path's value refuses, among those still alive
            if record:
                body.append(f"        drops += {j}, d, v; alive ^= d")
                body.append("        if not alive: return alive, drops")
            else:
                body.append("        alive ^= d")
                body.append("        if not alive: return alive")
        body.append("    return alive, drops" if record else "    return alive")
        return _build(comp, body, "<campaign-bitset>", "a, f, t")

    def first_failing(self, index: int, tests: list[tuple[Node, Rejection]], value: Any) -> Rejection:
        from marketing.domain.conditions import evaluate

        source, name = self.paths[index]
        sources: dict[str, dict] = {EVENT: {}, FIELD: {}, TAG: {}}
        if value is not MISSING:
            sources[source] = {name: value}
        return next((reason for node, reason in tests if not evaluate(node, sources, 0.0)), tests[0][1])

    def _miss(self, index: int, value: Any) -> int:
        key = self.keyers[index](value)
        mask = self.memo[index].get(key)
        return self._mask(index, key, value) if mask is None else mask

    def _keyer(self, members: list[tuple[int, list[Node]]]) -> Callable[[Any], Any]:
        """The value class of a path: values in one class pass exactly the same tests on it, so
        a path's classes are few whatever the customers (a memo of them stays warm on new ones).

        A value named by an (in)equality test is its own class (with its type: 1 and True compare
        alike but order differently); any other value is known by where it falls among the
        comparison bounds of its kind; values of other kinds fail every comparison and every
        equality, so they share one class, and a missing value is one class of its own. With
        `startswith` tests a value's class also holds the prefixes it starts with; with `contains`,
        the operands it contains. Only `within` (the clock) keeps a value as its own class."""
        leaves = [leaf for _, nodes in members for node in nodes for leaf in _leaves(node)]
        if any(leaf.op not in _CLASSIFIABLE for leaf in leaves):
            return lambda v: (v.__class__, v)
        named: set[Any] = set()
        numbers: set[Any] = set()
        strings: set[str] = set()
        prefixes: set[str] = set()
        contained: set[Any] = set()
        for leaf in leaves:
            operands = leaf.operand if leaf.op in ("in", "nin", "between") else (leaf.operand,)
            if leaf.op in ("eq", "ne", "in", "nin"):
                named.update(operands)
            elif leaf.op == "startswith":
                prefixes.update(operands)
            elif leaf.op == "contains":
                contained.update(operands)
            elif leaf.op != "exists":
                for b in operands:
                    (strings if isinstance(b, str) else numbers).add(b)
        number_bounds, string_bounds = sorted(numbers), sorted(strings)
        starts = tuple(sorted(p for p in prefixes if isinstance(p, str)))
        elements = tuple(contained)
        substrings = tuple(x for x in elements if isinstance(x, str))
        bisect = self._bisect

        def base(v: Any) -> Any:
            if v in named:
                return (v.__class__, v)
            if v.__class__ in _NUM:
                bounds = number_bounds
            elif v.__class__ is str:
                bounds = string_bounds
            else:
                return OTHER
            i = bisect(bounds, v)
            return (v.__class__ is str, 2 * i + (i < len(bounds) and bounds[i] == v))

        if not starts and not elements:
            return lambda v: ABSENT if v is MISSING else base(v)

        def key(v: Any) -> Any:
            if v is MISSING:
                return ABSENT
            if v.__class__ is str:
                return (base(v), tuple([p for p in starts if v.startswith(p)]), tuple([x for x in substrings if x in v]))
            if v.__class__ is tuple:
                return (base(v), (), tuple([x for x in elements if x in v]))
            return (base(v), (), ())
        return key

    def _mask(self, index: int, key: Any, value: Any, keep: bool = True) -> int:
        from marketing.domain.conditions import evaluate

        source, name = self.paths[index]
        sources: dict[str, dict] = {EVENT: {}, FIELD: {}, TAG: {}}
        if value is not MISSING:
            sources[source] = {name: value}
        mask = self.free[index]
        for i, nodes in self.members[index]:
            if all(evaluate(n, sources, 0.0) for n in nodes):
                mask |= 1 << i
        memo = self.memo[index]
        if keep and len(memo) < 4096:
            memo[key] = mask
        return mask

    def __call__(self, a: dict, f: dict, t: dict, now: float, ok: Callable) -> Any:
        alive = self.quick(a, f, t)
        extra: list[Rejection] = []
        campaigns = self.campaigns
        bits = alive
        while bits:
            low = bits & -bits
            i = low.bit_length() - 1
            bits ^= low
            if low & self.residual_mask:
                reason = self.checks[i](a, f, t, now)
                if reason is not None:
                    extra.append(reason)
                    continue
            ok(campaigns[i])
        rejections = BitRejections(self, a, f, t, self.size - alive.bit_count())
        return _Chain(rejections, extra) if extra else rejections


class _Chain(BitRejections):
    __slots__ = ("extra",)

    def __init__(self, rejections: BitRejections, extra: list[Rejection]):
        super().__init__(rejections.group, *rejections.inputs, rejections.dropped)
        self.extra = extra

    def count(self) -> int:
        return super().count() + len(self.extra)

    def __iter__(self):
        yield from super().__iter__()
        yield from self.extra


def _compile_residual(campaign: Campaign, nodes: tuple[Node, ...]) -> Callable[[dict, dict, dict, float], Rejection | None]:
    """A campaign's tests that read several paths (or the clock), compiled: the first false one's reason, or None."""
    comp = _Compiler()
    verdict = "None"
    for node in reversed(sorted(nodes, key=_rank)):
        verdict = f"{comp.const((campaign, describe(node)))} if not {comp.expr(node)} else {verdict}"
    return _build(comp, [f"    return {verdict}"], "<campaign-residual>",
                    "a, f, t, now")


def _compile_bucket(entries: list[Entry]) -> list[GroupFn]:
    """A bucket's group functions: bitsets for a large set of campaigns whose trigger is settled,
    compiled code for the rest (and for campaigns with where-tests left, which may not trigger)."""
    settled = [e for e in entries if not e[1]]
    if len(settled) < BITSET_MIN_GROUP:
        return [_compile_group(entries)] if entries else []
    rest = [e for e in entries if e[1]]
    return [_BitGroup(settled)] + ([_compile_group(rest)] if rest else [])


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
        always: list[Entry] = []
        buckets: dict[str, dict[Any, list[Entry]]] = defaultdict(lambda: defaultdict(list))
        for campaign in campaigns:
            attr, test, rest = _index_key(campaign)
            entry = (campaign, rest, _audience_tests(campaign))
            if test is None:
                always.append(entry)
                continue
            values = test.operand if test.op == "in" else (test.operand,)
            for value in values:
                buckets[attr][value].append(entry)
        self.always: list[GroupFn] = _compile_bucket(always)
        self.by_attr: list[tuple[str, dict[Any, list[GroupFn]]]] = [
            (attr, {value: _compile_bucket(entries) for value, entries in table.items()})
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
        ok, parts = result.eligible.append, result.parts
        for group in index.always:
            parts.append(group(attrs, fields, tags, now, ok))
        for attr, table in index.by_attr:
            value = attrs.get(attr, MISSING)
            try:
                groups = table.get(value, ())
            except TypeError:  # an unhashable attribute value matches no equality test
                groups = ()
            for group in groups:  # a campaign sits under one attribute, so it is visited at most once
                parts.append(group(attrs, fields, tags, now, ok))
        return result


def sources(attrs: dict, fields: dict, tags: dict) -> dict[str, dict]:
    return {EVENT: attrs, FIELD: fields, TAG: tags}
