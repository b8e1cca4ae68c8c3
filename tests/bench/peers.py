"""Benchmark peers: SPEC 4.3 trigger `where` + `audience` conditions translated ONCE into rule-engine
expressions and JsonLogic documents, plus `naive_reference`, a direct interpreter used only to cross-check.
Test/benchmark code only: it must never be imported by the product, and must never smuggle Python
predicates into the peers (only a missing/type-aware symbol resolver and a JsonLogic `typeof` primitive).
"""
from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = ["RuleEnginePeer", "JsonLogicPeer", "naive_reference", "parse_conditions", "LEAF_OPS"]

LEAF_OPS = frozenset({"eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "between", "exists",
                      "contains", "startswith"})
_ORDER_OPS = frozenset({"gt", "gte", "lt", "lte"})

# Decisions shared by all three implementations (see test_peers_agree.py):
# * a JSON null value counts as MISSING (both libraries conflate the two);
# * "tags.X" / "event.X" name one key X (no deeper nesting); bare keys are profile fields in the
#   audience and event attributes in trigger.where;
# * `any` / `all` take a list of condition maps, `not` a single map; `within` is not supported here;
# * an empty map / `all: []` is true, `any: []` is false;
# * contains: string value + string operand -> substring; list value -> element (Python ==); else false;
# * startswith: string value + string operand only; between [lo, hi] follows the gt/gte type rule.
# Known differences from the product's marketing.domain.conditions, none of them reachable from the
# bench workload (no nulls, where-keys are only attr_a/attr_n, no consents.* paths):
# * the product keeps a present null as a value (eq null / exists: true hold on it);
# * in trigger.where the product reads a bare profile-field name (e.g. `status`) from the profile;
# * the product accepts `consents.<k>` paths and refuses unknown paths and empty any/all/in lists.


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# =========================================================================== naive reference

_MISSING = object()


def _naive_get(path: str, scope: str, event: dict, profile: dict):
    if path.startswith("tags."):
        src, key = profile.get("tags") or {}, path[5:]
    elif path.startswith("event."):
        src, key = event.get("attributes") or {}, path[6:]
    elif scope == "where":
        src, key = event.get("attributes") or {}, path
    else:
        src, key = profile, path
    v = src.get(key, _MISSING)
    return _MISSING if v is None else v


def _naive_leaf(v, op: str, x) -> bool:
    missing = v is _MISSING
    if op == "eq":
        return not missing and v == x
    if op == "ne":
        return missing or v != x
    if op == "in":
        return not missing and v in list(x)
    if op == "nin":
        return missing or v not in list(x)
    if op in _ORDER_OPS:
        if missing or not ((_is_num(v) and _is_num(x)) or (isinstance(v, str) and isinstance(x, str))):
            return False
        return {"gt": v > x, "gte": v >= x, "lt": v < x, "lte": v <= x}[op]
    if op == "between":
        lo, hi = x
        return _naive_leaf(v, "gte", lo) and _naive_leaf(v, "lte", hi)
    if op == "exists":
        return (not missing) if x else missing
    if op == "contains":
        if isinstance(v, str) and isinstance(x, str):
            return x in v
        return isinstance(v, list) and x in v
    if op == "startswith":
        return isinstance(v, str) and isinstance(x, str) and v.startswith(x)
    raise ValueError(f"unsupported operator {op!r}")


def _naive_map(cond: dict, scope: str, event: dict, profile: dict) -> bool:
    for key, spec in cond.items():
        if key == "any":
            ok = any(_naive_map(c, scope, event, profile) for c in spec)
        elif key == "all":
            ok = all(_naive_map(c, scope, event, profile) for c in spec)
        elif key == "not":
            ok = not _naive_map(spec, scope, event, profile)
        else:
            v = _naive_get(key, scope, event, profile)
            if isinstance(spec, dict):
                ((op, x),) = spec.items()
            else:
                op, x = "eq", spec
            ok = _naive_leaf(v, op, x)
        if not ok:
            return False
    return True


def naive_reference(campaign: dict, event: dict, profile: dict) -> bool:
    """Does `campaign` match (trigger type + where + audience)? Straight interpretation, no compilation."""
    trigger = campaign.get("trigger") or {}
    if trigger.get("event") != event.get("event_type"):
        return False
    return (_naive_map(trigger.get("where") or {}, "where", event, profile)
            and _naive_map(campaign.get("audience") or {}, "audience", event, profile))


# =========================================================================== shared parse
# Node = ("and", [Node]) | ("or", [Node]) | ("not", Node) | ("leaf", ns, key, op, operand)
# ns in {"profile", "tags", "event"}


def _check_operand(op: str, x, where: str):
    def scalar(v):
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"{where}: non-finite number {v!r}")
        if not (v is None or isinstance(v, (str, int, float, bool))):
            raise ValueError(f"{where}: operand of {op} must be a scalar, got {type(v).__name__}")

    if op in ("in", "nin"):
        if not isinstance(x, (list, tuple)):
            raise ValueError(f"{where}: {op} needs a list")
        for item in x:
            scalar(item)
    elif op == "between":
        if not isinstance(x, (list, tuple)) or len(x) != 2:
            raise ValueError(f"{where}: between needs [lo, hi]")
        for item in x:
            scalar(item)
    elif op == "exists":
        if not isinstance(x, bool):
            raise ValueError(f"{where}: exists needs true/false")
    else:
        scalar(x)


def parse_conditions(cond: dict, scope: str, where: str = "$") -> tuple:
    """Condition map -> node tree (scope "audience" or "where" decides what a bare key reads)."""
    if not isinstance(cond, dict):
        raise ValueError(f"{where}: a condition must be a map, got {type(cond).__name__}")
    parts = []
    for key, spec in cond.items():
        here = f"{where}.{key}"
        if key in ("any", "all"):
            if not isinstance(spec, list):
                raise ValueError(f"{here}: needs a list of condition maps")
            parts.append(("or" if key == "any" else "and",
                          [parse_conditions(c, scope, f"{here}[{i}]") for i, c in enumerate(spec)]))
        elif key == "not":
            parts.append(("not", parse_conditions(spec, scope, here)))
        else:
            if key.startswith("tags."):
                ns, name = "tags", key[5:]
            elif key.startswith("event."):
                ns, name = "event", key[6:]
            else:
                ns, name = ("event" if scope == "where" else "profile"), key
            if not name or "." in name:
                raise ValueError(f"{here}: a path is 'tags.X', 'event.X' or a bare name, X without dots")
            if isinstance(spec, dict):
                if len(spec) != 1:
                    raise ValueError(f"{here}: an operator map has exactly one key")
                ((op, x),) = spec.items()
                if op not in LEAF_OPS:
                    raise ValueError(f"{here}: unsupported operator {op!r}")
            else:
                op, x = "eq", spec
            _check_operand(op, x, here)
            parts.append(("leaf", ns, name, op, x))
    return ("and", parts)


def _campaign_tree(campaign: dict) -> tuple:
    trig = campaign.get("trigger") or {}
    cid = campaign.get("id", "?")
    return ("and", [parse_conditions(trig.get("where") or {}, "where", f"{cid}.trigger.where"),
                    parse_conditions(campaign.get("audience") or {}, "audience", f"{cid}.audience")])


def _order_kind(*xs) -> str | None:
    """'number' / 'string' if all operands share that orderable type, else None (never matches)."""
    if all(_is_num(x) for x in xs):
        return "number"
    if all(isinstance(x, str) for x in xs):
        return "string"
    return None


# =========================================================================== rule-engine peer


def _re_lit(x) -> str:
    if x is None:
        return "null"
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        return repr(x)
    if isinstance(x, str):
        esc = x.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") \
            .replace("\t", "\\t")
        return f'"{esc}"'
    raise ValueError(f"no rule-engine literal for {x!r}")


class RuleEnginePeer:
    """One compiled `rule_engine.Rule` per campaign, indexed by trigger event type.

    Symbols: `v_<ns>_<key>` is the raw value (null when missing), `n_...` / `s_...` / `a_...` the value
    only when it is a number (not bool) / string / list, else null. The resolver does nothing else; every
    test, and/or/not and null guard lives in the rule-engine expression.
    """

    _NS = {"profile": "p", "tags": "t", "event": "e"}
    _IDENT = re.compile(r"[A-Za-z0-9_]+\Z")

    def __init__(self, campaigns: list[dict]):
        import rule_engine

        self._rule_engine = rule_engine
        self._symbols: dict[str, tuple[str, int, str]] = {}
        self._key_alias: dict[tuple[str, str], str] = {}
        self.context = rule_engine.Context(resolver=self._resolve, default_value=None)
        self.expressions: dict[str, str] = {}
        self.index: dict[str, list[tuple[str, Any]]] = {}
        for c in campaigns:
            text = self._emit(_campaign_tree(c))
            self.expressions[c["id"]] = text
            rule = rule_engine.Rule(text, context=self.context)
            self.index.setdefault((c.get("trigger") or {}).get("event"), []).append((c["id"], rule))

    # ---- symbols / resolver
    _SRC = {"profile": 0, "tags": 1, "event": 2}

    def _sym(self, kind: str, ns: str, key: str) -> str:
        alias = self._key_alias.get((ns, key))
        if alias is None:
            safe = key if self._IDENT.match(key) else f"k{len(self._key_alias)}"
            alias = self._key_alias[(ns, key)] = f"{self._NS[ns]}_{safe}"
        name = f"{kind}_{alias}"
        self._symbols[name] = (kind, self._SRC[ns], key)
        return name

    def _resolve(self, thing: tuple, name: str):
        try:
            kind, src, key = self._symbols[name]
        except KeyError:
            raise self._rule_engine.errors.SymbolResolutionError(name) from None
        v = thing[src].get(key)
        if kind == "v" or v is None:
            return v
        if kind == "n":
            return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None
        if kind == "s":
            return v if isinstance(v, str) else None
        return v if isinstance(v, list) else None  # "a"

    # ---- expression emission
    def _emit(self, node) -> str:
        tag = node[0]
        if tag in ("and", "or"):
            parts = [self._emit(n) for n in node[1]]
            if not parts:
                return "true" if tag == "and" else "false"
            return parts[0] if len(parts) == 1 else "(" + f" {tag} ".join(parts) + ")"
        if tag == "not":
            return f"(not {self._emit(node[1])})"
        _, ns, key, op, x = node
        return self._leaf(ns, key, op, x)

    def _eq(self, v: str, x) -> str:
        if x is None:
            return "false"  # null == missing: a positive test never holds
        if isinstance(x, bool) or (_is_num(x) and x in (0, 1)):
            # rule-engine's == is type-strict (true != 1) but its `in` follows Python ==
            return f"({v} in [{_re_lit(x)}])"
        return f"({v} == {_re_lit(x)})"

    def _in(self, v: str, xs) -> str:
        xs = [x for x in xs if x is not None]
        if not xs:
            return "false"
        return f"({v} in [{', '.join(_re_lit(x) for x in xs)}])"

    def _leaf(self, ns: str, key: str, op: str, x) -> str:
        sym = lambda kind: self._sym(kind, ns, key)  # noqa: E731 - symbol names, not predicates
        if op == "eq":
            return self._eq(sym("v"), x)
        if op == "ne":
            return f"(not {self._eq(sym('v'), x)})"
        if op == "in":
            return self._in(sym("v"), x)
        if op == "nin":
            return f"(not {self._in(sym('v'), x)})"
        if op in _ORDER_OPS:
            kind = _order_kind(x)
            if kind is None:
                return "false"
            s = sym("n" if kind == "number" else "s")
            cmp = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
            return f"({s} != null and {s} {cmp} {_re_lit(x)})"
        if op == "between":
            lo, hi = x
            kind = _order_kind(lo, hi)
            if kind is None:
                return "false"
            s = sym("n" if kind == "number" else "s")
            return f"({s} != null and {s} >= {_re_lit(lo)} and {s} <= {_re_lit(hi)})"
        if op == "exists":
            return f"({sym('v')} != null)" if x else f"({sym('v')} == null)"
        if op == "contains":
            if x is None:
                return "false"
            a = sym("a")
            in_list = f"({a} != null and {_re_lit(x)} in {a})"
            if isinstance(x, str):
                s = sym("s")
                return f"(({s} != null and {_re_lit(x)} in {s}) or {in_list})"
            return in_list
        if op == "startswith":
            if not isinstance(x, str):
                return "false"
            s = sym("s")
            return f"({s} != null and {s} =~ {_re_lit(re.escape(x))})"
        raise ValueError(f"unsupported operator {op!r}")

    # ---- matching
    def match(self, event: dict, profile: dict) -> list[str]:
        entries = self.index.get(event.get("event_type"))
        if not entries:
            return []
        thing = (profile, profile.get("tags") or {}, event.get("attributes") or {})
        return [cid for cid, rule in entries if rule.matches(thing)]


# =========================================================================== JsonLogic peer


def _op_typeof(data=None, a=None, *_ignored) -> str:
    """JS-like typeof, the one primitive JsonLogic lacks to honour 'both numbers or both strings'."""
    if a is None:
        return "null"
    if isinstance(a, bool):
        return "boolean"
    if isinstance(a, (int, float)):
        return "number"
    if isinstance(a, str):
        return "string"
    if isinstance(a, list):
        return "array"
    return "object"


class JsonLogicPeer:
    """One JsonLogic document per campaign (built once), evaluated with panzi-json-logic's `jsonLogic`.

    Data per event: the profile's top-level fields plus `event` = the event attributes, so paths are
    `{"var": "status"}`, `{"var": "tags.t005"}`, `{"var": "event.attr_a"}`; a missing var is null.
    """

    def __init__(self, campaigns: list[dict]):
        from json_logic import jsonLogic
        from json_logic.builtins import BUILTINS

        self._apply = jsonLogic
        self.operations = {**BUILTINS, "typeof": _op_typeof}
        self.logic: dict[str, Any] = {}
        self.index: dict[str, list[tuple[str, Any]]] = {}
        for c in campaigns:
            doc = self._emit(_campaign_tree(c))
            json.dumps(doc)  # must be plain JSON data, nothing callable
            self.logic[c["id"]] = doc
            self.index.setdefault((c.get("trigger") or {}).get("event"), []).append((c["id"], doc))

    @staticmethod
    def _var(ns: str, key: str) -> dict:
        return {"var": key if ns == "profile" else f"{ns}.{key}"}

    def _emit(self, node):
        tag = node[0]
        if tag in ("and", "or"):
            parts = [self._emit(n) for n in node[1]]
            if not parts:
                return tag == "and"
            return parts[0] if len(parts) == 1 else {tag: parts}
        if tag == "not":
            return {"!": [self._emit(node[1])]}
        _, ns, key, op, x = node
        return self._leaf(self._var(ns, key), op, x)

    @staticmethod
    def _typed(var: dict, kind: str, test: dict) -> dict:
        return {"and": [{"===": [{"typeof": [var]}, kind]}, test]}

    def _leaf(self, var: dict, op: str, x):
        if op == "eq":
            return False if x is None else {"===": [var, x]}  # === is Python == here
        if op == "ne":
            return True if x is None else {"!==": [var, x]}
        if op in ("in", "nin"):
            xs = [i for i in x if i is not None]
            test = {"in": [var, xs]} if xs else False
            return test if op == "in" else {"!": [test]}
        if op in _ORDER_OPS:
            kind = _order_kind(x)
            if kind is None:
                return False
            cmp = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
            return self._typed(var, kind, {cmp: [var, x]})
        if op == "between":
            lo, hi = x
            kind = _order_kind(lo, hi)
            if kind is None:
                return False
            return self._typed(var, kind, {"<=": [lo, var, hi]})
        if op == "exists":
            return {"!==": [var, None]} if x else {"===": [var, None]}
        if op == "contains":
            if x is None:
                return False
            if isinstance(x, str):
                return {"in": [x, var]}  # substring of a string, element of a list, else false
            return self._typed(var, "array", {"in": [x, var]})
        if op == "startswith":
            if not isinstance(x, str):
                return False
            return self._typed(var, "string", {"===": [{"substr": [var, 0, len(x)]}, x]})
        raise ValueError(f"unsupported operator {op!r}")

    def match(self, event: dict, profile: dict) -> list[str]:
        entries = self.index.get(event.get("event_type"))
        if not entries:
            return []
        data = dict(profile)
        data["event"] = event.get("attributes") or {}
        apply, ops = self._apply, self.operations
        return [cid for cid, doc in entries if apply(doc, data, ops)]


# =========================================================================== speed check

if __name__ == "__main__":
    import time

    from tests.bench.workload import make_workload

    n_campaigns, n_events = 1000, 2000
    t0 = time.perf_counter()
    wl = make_workload(n_campaigns, n_events)
    print(f"workload {n_campaigns} campaigns / {n_events} events: {time.perf_counter() - t0:.2f}s")
    by_id = {p["customer_id"]: p for p in wl.profiles}
    pairs = [(e, by_id[e["customer_id"]]) for e in wl.events]

    for cls in (RuleEnginePeer, JsonLogicPeer):
        t0 = time.perf_counter()
        peer = cls(wl.campaigns)
        built = time.perf_counter() - t0
        t0 = time.perf_counter()
        hits = sum(len(peer.match(e, p)) for e, p in pairs)
        dt = time.perf_counter() - t0
        print(f"{cls.__name__:15s} build {built:6.2f}s  {n_events / dt:9.0f} events/s  "
              f"({dt / n_events * 1e6:8.0f} us/event, {hits} matches)")

    by_type: dict[str, list[dict]] = {}
    for c in wl.campaigns:
        by_type.setdefault(c["trigger"]["event"], []).append(c)
    t0 = time.perf_counter()
    hits = sum(naive_reference(c, e, p) for e, p in pairs for c in by_type.get(e["event_type"], ()))
    dt = time.perf_counter() - t0
    print(f"{'naive_reference':15s} build {0:6.2f}s  {n_events / dt:9.0f} events/s  "
          f"({dt / n_events * 1e6:8.0f} us/event, {hits} matches)")
