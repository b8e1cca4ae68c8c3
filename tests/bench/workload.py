"""Seeded, deterministic HARD benchmark workload (campaigns, profiles, events) in SPEC 4.1-4.3 shapes.
Pure data generation from `random.Random(seed)`: it must never read the clock, the environment or
global random state, and never import product code, so the same arguments always give the same workload.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

__all__ = [
    "Workload",
    "TagSpec",
    "make_workload",
    "ColdStream",
    "cold_stream",
    "tag_catalog",
    "EVENT_TYPES",
    "HOT_EVENT_TYPES",
    "ATTR_A_VALUES",
]

N_EVENT_TYPES = 40
EVENT_TYPES = [f"bench.type_{i:02d}" for i in range(N_EVENT_TYPES)]
HOT_EVENT_TYPES = EVENT_TYPES[:3]
COLD_EVENT_TYPES = EVENT_TYPES[3:]
ATTR_A_VALUES = [f"v{i}" for i in range(20)]
ATTR_B_VALUES = [f"b{i}" for i in range(6)]

N_TAGS = 200
TAG_MISSING_RATE = 0.05
HOT_CAMPAIGN_SHARE = 0.30

SCHEDULE = {"start": "2026-01-01T00:00:00+00:00", "end": "2030-01-01T00:00:00+00:00"}
DEFAULT_BASE_TIME = datetime(2026, 11, 1, tzinfo=timezone.utc)

LOCALES = [("zh-CN", 0.50), ("en-US", 0.20), ("en-GB", 0.10), ("zh-HK", 0.10), ("ms-MY", 0.10)]
TIMEZONES = {
    "zh-CN": "Asia/Shanghai",
    "en-US": "America/New_York",
    "en-GB": "Europe/London",
    "zh-HK": "Asia/Hong_Kong",
    "ms-MY": "Asia/Kuala_Lumpur",
}


@dataclass(frozen=True)
class TagSpec:
    """How one profile tag is distributed (`kind`: cat | int | float | bool)."""

    name: str
    kind: str
    values: tuple[str, ...] = ()  # categorical domain
    weights: tuple[float, ...] = ()  # categorical value probabilities (sum 1)
    p_true: float = 0.5  # booleans
    hi: float = 0.0  # numerics: uniform on [0, hi]


@dataclass
class Workload:
    campaigns: list[dict]
    profiles: list[dict]
    events: list[dict]
    event_types: list[str]
    # extras for harnesses: {event_type: {attr: "string" | "integer"}} and the tag distributions
    event_attributes: dict[str, dict[str, str]] = field(default_factory=dict)
    tags: list[TagSpec] = field(default_factory=list)


# --------------------------------------------------------------------------- catalogs


def tag_catalog(seed: int = 7) -> list[TagSpec]:
    """The 200 tags t000..t199: 100 categorical, 40 integer, 20 float, 10 boolean, and production's other
    shapes: 10 lists of strings (read by `contains`), 10 dates (ISO strings, compared as strings) and 10
    codes (strings read by `startswith`) — kinds shuffled."""
    rng = random.Random(f"{seed}:tags")
    kinds = (["cat"] * 100 + ["int"] * 40 + ["float"] * 20 + ["bool"] * 10 + ["list"] * 10 + ["date"] * 10
             + ["code"] * 10)
    rng.shuffle(kinds)
    specs = []
    for i, kind in enumerate(kinds):
        name = f"t{i:03d}"
        if kind == "cat":
            d = rng.randint(3, 12)
            raw = [1.0 / (j + 1) ** 0.6 for j in range(d)]  # mild skew towards _v0
            total = sum(raw)
            specs.append(TagSpec(name, kind, tuple(f"{name}_v{j}" for j in range(d)),
                                 tuple(w / total for w in raw)))
        elif kind == "int":
            specs.append(TagSpec(name, kind, hi=1000))
        elif kind == "float":
            specs.append(TagSpec(name, kind, hi=100.0))
        elif kind in ("list", "code"):
            # list: each element present on its own with its weight; code: a prefix by weight + digits
            d = rng.randint(6, 16)
            weights = tuple(round(rng.uniform(0.03, 0.6), 3) for _ in range(d)) if kind == "list" else tuple(
                w / sum(raw) for raw in [[1.0 / (j + 1) ** 0.6 for j in range(d)]] for w in raw)
            specs.append(TagSpec(name, kind, tuple(f"{name}_{j:02d}" for j in range(d)), weights))
        elif kind == "date":
            specs.append(TagSpec(name, kind, hi=float(DATE_DAYS)))
        else:
            specs.append(TagSpec(name, kind, p_true=round(rng.uniform(0.2, 0.8), 2)))
    return specs


def _event_attribute_catalog(seed: int) -> dict[str, dict[str, str]]:
    rng = random.Random(f"{seed}:event-types")
    catalog = {}
    for et in EVENT_TYPES:
        attrs = {"attr_a": "string", "attr_n": "integer"}
        extra = rng.random()
        if extra < 0.35:
            attrs["attr_b"] = "string"
        elif extra < 0.6:
            attrs["attr_m"] = "integer"
        catalog[et] = attrs
    return catalog


DATE_DAYS = 1035  # dates are uniform over the days from DATE_ORIGIN


DATE_ORIGIN = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _date(day: int) -> str:
    return (DATE_ORIGIN + timedelta(days=day)).date().isoformat()


def _sample_tag(rng: random.Random, spec: TagSpec):
    if spec.kind == "list":
        return [v for v, w in zip(spec.values, spec.weights) if rng.random() < w]
    if spec.kind == "code":
        return f"{rng.choices(spec.values, spec.weights)[0]}-{rng.randint(0, 99_999):05d}"
    if spec.kind == "date":
        return _date(rng.randrange(DATE_DAYS))
    if spec.kind == "cat":
        return rng.choices(spec.values, spec.weights)[0]
    if spec.kind == "int":
        return rng.randint(0, int(spec.hi))
    if spec.kind == "float":
        return round(rng.uniform(0.0, spec.hi), 2)
    return rng.random() < spec.p_true


def _wrong_type(rng: random.Random, spec: TagSpec, value):
    """A value of the wrong type for this tag (exercises the type-mismatch rules)."""
    if spec.kind in ("int", "float"):
        return rng.choice([str(value), True, [value]])
    if spec.kind in ("cat", "code", "date"):
        return rng.choice([rng.randint(0, 1000), False, 0.5])  # never None: see peers.py on nulls
    if spec.kind == "list":
        return rng.choice([spec.values[0], 3, True])
    return rng.choice([1, 0, "true"])


# --------------------------------------------------------------------------- profiles / events


def _make_profile(i: int, tags: list[TagSpec], seed: int, type_noise: float) -> dict:
    """Customer i of the population: its own seeded stream, so any customer can be made alone
    (the cold bench draws its events over 200,000 customers and makes only those it meets)."""
    rng = random.Random(f"{seed}:profile:{i}")
    locales = [loc for loc, _ in LOCALES]
    locale_w = [w for _, w in LOCALES]
    cid = f"86139{i:08d}"
    locale = rng.choices(locales, locale_w)[0]
    tag_values = {}
    for spec in tags:
        if rng.random() < TAG_MISSING_RATE:
            continue
        value = _sample_tag(rng, spec)
        if type_noise and rng.random() < type_noise:
            value = _wrong_type(rng, spec, value)
        tag_values[spec.name] = value
    channels = ["sms", "app_push", "email"]
    rng.shuffle(channels)
    return {
        "customer_id": cid,
        "status": "active" if rng.random() < 0.95 else rng.choice(["suspended", "churned"]),
        "name": f"Bench User {i:05d}",
        "msisdn": f"+{cid}",
        "email": f"user{i:05d}@example.com",
        "timezone": TIMEZONES[locale],
        "locale": locale,
        "tags": tag_values,
        "consents": {
            "marketing": rng.random() < 0.9,
            "sms": rng.random() < 0.9,
            "email": rng.random() < 0.6,
            "app_push": rng.random() < 0.7,
            "dnd": rng.random() < 0.05,
        },
        "channel_preference": channels,
    }


def _make_profiles(n: int, tags: list[TagSpec], seed: int, type_noise: float) -> list[dict]:
    return [_make_profile(i, tags, seed, type_noise) for i in range(n)]


def _make_events(n: int, profiles: list[dict], catalog: dict[str, dict[str, str]], seed: int,
                 base_time: datetime) -> list[dict]:
    rng = random.Random(f"{seed}:events")
    ids = [p["customer_id"] for p in profiles]
    return _events(rng, range(n), lambda _: ids[rng.randrange(len(ids))] if ids else "", catalog, base_time)


def _events(rng: random.Random, numbers: range, customer, catalog: dict[str, dict[str, str]],
            base_time: datetime) -> list[dict]:
    """Events numbered `numbers`, event i for the customer id `customer(i)`."""
    # 60% on the three hot types (mild skew among them), 40% over the 37 others (mild skew)
    hot_w = [0.24, 0.20, 0.16]
    cold_raw = [1.0 / (j + 6) ** 0.5 for j in range(len(COLD_EVENT_TYPES))]
    cold_total = sum(cold_raw)
    weights = hot_w + [0.40 * w / cold_total for w in cold_raw]
    a_weights = [1.0 / (j + 3) ** 0.5 for j in range(len(ATTR_A_VALUES))]
    t = base_time
    events = []
    for i in numbers:
        et = rng.choices(EVENT_TYPES, weights)[0]
        attrs: dict = {}
        for attr, typ in catalog[et].items():
            if attr == "attr_a":
                attrs[attr] = rng.choices(ATTR_A_VALUES, a_weights)[0]
            elif attr == "attr_b":
                attrs[attr] = rng.choice(ATTR_B_VALUES)
            else:
                attrs[attr] = rng.randint(0, 100)
        t = t + timedelta(milliseconds=rng.randint(1, 200))
        events.append({
            "event_id": f"evt-{i + 1:07d}",
            "event_type": et,
            "customer_id": customer(i),
            "occurred_at": t.isoformat(timespec="milliseconds"),
            "source": "bench",
            "touchpoint": "network",
            "attributes": attrs,
        })
    return events


# --------------------------------------------------------------------------- campaigns


class _TagPicker:
    """Tags by kind with mild popularity skew, but steering to not-yet-used tags so every tag gets used."""

    def __init__(self, rng: random.Random, tags: list[TagSpec]):
        self.rng = rng
        self.by_kind: dict[str, list[TagSpec]] = {}
        for spec in tags:
            self.by_kind.setdefault(spec.kind, []).append(spec)
        self.weights: dict[str, list[float]] = {}
        self.unused: dict[str, list[TagSpec]] = {}
        for kind, specs in self.by_kind.items():
            ranks = list(range(len(specs)))
            rng.shuffle(ranks)
            self.weights[kind] = [1.0 / (r + 10) ** 0.7 for r in ranks]
            pool = list(specs)
            rng.shuffle(pool)
            self.unused[kind] = pool

    def pick(self, kinds: tuple[str, ...], avoid: set[str]) -> TagSpec:
        rng = self.rng
        unused = [s for k in kinds for s in self.unused[k] if s.name not in avoid]
        if unused and rng.random() < 0.35:
            spec = unused[0]
        else:
            cands = [(s, w) for k in kinds for s, w in zip(self.by_kind[k], self.weights[k])
                     if s.name not in avoid]
            spec = rng.choices([c[0] for c in cands], [c[1] for c in cands])[0]
        if spec in self.unused[spec.kind]:
            self.unused[spec.kind].remove(spec)
        return spec


_PRESENT = 1.0 - TAG_MISSING_RATE


def _num_threshold(spec: TagSpec, p: float, op: str):
    """Threshold so that P(tag op threshold) ~= p (uniform values, 5% missing)."""
    q = min(max(p / _PRESENT, 0.005), 0.995)
    if spec.kind == "int":
        n = int(spec.hi) + 1
        thr = round(n * (1 - q)) if op == "gte" else round(n * q)
        thr = min(max(thr, 1), n - 1)
        sel = ((n - thr) / n if op == "gte" else thr / n) * _PRESENT
        return thr, sel
    thr = round(spec.hi * (1 - q) if op == "gte" else spec.hi * q, 1)
    sel = ((spec.hi - thr) / spec.hi if op == "gte" else thr / spec.hi) * _PRESENT
    return thr, sel


def _in_values(rng: random.Random, spec: TagSpec, p: float):
    """1-3 categorical values (never the whole domain) whose mass is close to p."""
    target = p / _PRESENT
    idx = list(range(len(spec.values)))
    best = None
    for _ in range(24):
        k = rng.randint(1, min(3, len(idx) - 1))
        chosen = rng.sample(idx, k)
        mass = sum(spec.weights[j] for j in chosen)
        err = abs(math.log(mass / target))
        if best is None or err < best[0]:
            best = (err, chosen, mass)
    _, chosen, mass = best
    chosen.sort()
    return [spec.values[j] for j in chosen], mass * _PRESENT


def _leaf(rng: random.Random, picker: _TagPicker, used: set[str], p: float, positive_only: bool = False):
    """One leaf condition {path: spec} with selectivity close to p; returns (condition, selectivity)."""
    p = min(max(p, 0.01), 0.97)
    choices = [("num", 0.35), ("in", 0.35), ("contains", 0.08), ("startswith", 0.08), ("date", 0.08)]
    if p >= 0.55 and not positive_only:
        choices += [("ne_cat", 0.25), ("ne_bool", 0.12)]
    if p >= 0.85:
        choices += [("exists", 0.1)]
    kind = rng.choices([c[0] for c in choices], [c[1] for c in choices])[0]
    if kind == "contains":
        spec = picker.pick(("list",), used)
        j = min(range(len(spec.values)), key=lambda k: abs(math.log(spec.weights[k] * _PRESENT / p)))
        sel = spec.weights[j] * _PRESENT
        cond = {f"tags.{spec.name}": {"contains": spec.values[j]}}
    elif kind == "startswith":
        spec = picker.pick(("code",), used)
        j = min(range(len(spec.values)), key=lambda k: abs(math.log(spec.weights[k] * _PRESENT / p)))
        sel = spec.weights[j] * _PRESENT
        cond = {f"tags.{spec.name}": {"startswith": spec.values[j]}}
    elif kind == "date":
        spec = picker.pick(("date",), used)
        op = rng.choice(("gte", "lt"))
        q = min(max(p / _PRESENT, 0.005), 0.995)
        day = min(max(round(DATE_DAYS * (1 - q) if op == "gte" else DATE_DAYS * q), 1), DATE_DAYS - 1)
        sel = ((DATE_DAYS - day) / DATE_DAYS if op == "gte" else day / DATE_DAYS) * _PRESENT
        cond = {f"tags.{spec.name}": {op: _date(day)}}
    elif kind == "exists":
        spec = picker.pick(("int", "float", "cat", "list", "date", "code"), used)
        sel = _PRESENT
        cond = {f"tags.{spec.name}": {"exists": True}}
    elif kind == "num":
        spec = picker.pick(("int", "float"), used)
        op = rng.choice(("gte", "lt"))
        thr, sel = _num_threshold(spec, p, op)
        cond = {f"tags.{spec.name}": {op: thr}}
    elif kind == "in":
        spec = picker.pick(("cat",), used)
        values, sel = _in_values(rng, spec, p)
        cond = {f"tags.{spec.name}": {"in": values}}
    elif kind == "ne_cat":
        spec = picker.pick(("cat",), used)
        j = rng.randrange(len(spec.values))
        sel = 1.0 - _PRESENT * spec.weights[j]
        cond = {f"tags.{spec.name}": {"ne": spec.values[j]}}
    else:
        spec = picker.pick(("bool",), used)
        val = rng.random() < 0.5
        sel = 1.0 - _PRESENT * (spec.p_true if val else 1 - spec.p_true)
        cond = {f"tags.{spec.name}": {"ne": val}}
    used.add(spec.name)
    return cond, sel


def _audience(rng: random.Random, picker: _TagPicker):
    """3-8 top-level conditions (implicit AND) aiming at an overall match rate of ~1-5%."""
    target = math.exp(rng.uniform(math.log(0.012), math.log(0.05)))
    k = rng.randint(3, 8)
    slots = ["leaf"] * k
    pos = list(range(k))
    rng.shuffle(pos)
    if rng.random() < 0.30:
        slots[pos.pop()] = "any"
    if rng.random() < 0.20:
        slots[pos.pop()] = "not"
    if pos and rng.random() < 0.25:
        slots[pos.pop()] = "status"
    if pos and rng.random() < 0.15:
        slots[pos.pop()] = "locale"
    # status / locale have fixed selectivity: take them first, spread the rest of the log budget
    audience: dict = {}
    used: set[str] = set()
    log_left = math.log(target)
    for s in slots:
        if s == "status":
            audience["status"] = "active"
            log_left -= math.log(0.95)
        elif s == "locale":
            if rng.random() < 0.5:
                audience["locale"] = "zh-CN"
                log_left -= math.log(0.5)
            else:
                audience["locale"] = {"in": ["zh-CN", "en-US"]}
                log_left -= math.log(0.7)
    rest = [s for s in slots if s in ("leaf", "any", "not")]
    shares = [rng.uniform(0.6, 1.4) for _ in rest]
    for n_done, (s, share) in enumerate(zip(rest, shares)):
        remaining_share = sum(shares[n_done:])
        p = math.exp(min(log_left * share / remaining_share, 0.0))
        if s == "leaf":
            cond, sel = _leaf(rng, picker, used, p)
            audience.update(cond)
        elif s == "any":
            m = rng.randint(2, 3)
            p = min(p, 0.9)
            p_j = 1.0 - (1.0 - p) ** (1.0 / m)
            subs, miss = [], 1.0
            for _ in range(m):
                cond, sel = _leaf(rng, picker, used, p_j, positive_only=True)
                subs.append(cond)
                miss *= 1.0 - sel
            audience["any"] = subs
            sel = 1.0 - miss
        else:  # not
            cond, inner = _leaf(rng, picker, used, 1.0 - p, positive_only=True)
            audience["not"] = cond
            sel = 1.0 - inner
        log_left -= math.log(max(sel, 1e-6))
    return audience


def _where(rng: random.Random):
    where: dict = {}
    if rng.random() < 0.5:
        where["attr_a"] = rng.choice(ATTR_A_VALUES)
    else:
        where["attr_a"] = {"in": sorted(rng.sample(ATTR_A_VALUES, rng.randint(2, 4)),
                                        key=ATTR_A_VALUES.index)}
    if rng.random() < 0.3:
        where["attr_n"] = {"gte": rng.randint(20, 80)}
    return where


def _make_campaigns(n: int, tags: list[TagSpec], seed: int) -> list[dict]:
    # one sequential stream: campaign i is the same whatever n is (prefix-stable)
    rng = random.Random(f"{seed}:campaigns")
    picker = _TagPicker(rng, tags)
    campaigns = []
    cold_seen = 0
    for i in range(n):
        hot = math.floor((i + 1) * HOT_CAMPAIGN_SHARE) > math.floor(i * HOT_CAMPAIGN_SHARE)
        trigger: dict
        if hot:
            trigger = {"event": rng.choice(HOT_EVENT_TYPES)}
        else:
            trigger = {"event": rng.choice(COLD_EVENT_TYPES)}
            if cold_seen % 2 == 1:
                trigger["where"] = _where(rng)
            cold_seen += 1
        cid = f"c{i + 1:05d}"
        campaigns.append({
            "id": cid,
            "name": f"Bench campaign {i + 1:05d}",
            "priority": rng.randint(1, 100),
            "schedule": dict(SCHEDULE),
            "trigger": trigger,
            "audience": _audience(rng, picker),
            "offer": {"code": f"OFF{i + 1:05d}", "value": rng.choice([5.0, 10.0, 20.0, 30.0, 50.0])},
            "channels": [{"sms": {"text": "hi {name}"}}],
            "limits": {"per_customer": 1},
        })
    prios = [c["priority"] for c in campaigns]
    if len(prios) >= 2 and len(set(prios)) == len(prios):
        campaigns[-1]["priority"] = campaigns[0]["priority"]  # ties must occur
    return campaigns


# --------------------------------------------------------------------------- entry point


def make_workload(n_campaigns: int, n_events: int, n_profiles: int = 2000, seed: int = 7, *,
                  type_noise: float = 0.0, base_time: datetime = DEFAULT_BASE_TIME) -> Workload:
    """Build the HARD workload. Same arguments -> identical output.

    type_noise: share of profile tag values replaced by a wrongly typed value (0 for the benchmark).
    base_time: occurred_at of the first event; later events follow by 1-200 ms each.
    """
    tags = tag_catalog(seed)
    catalog = _event_attribute_catalog(seed)
    profiles = _make_profiles(n_profiles, tags, seed, type_noise)
    return Workload(
        campaigns=_make_campaigns(n_campaigns, tags, seed),
        profiles=profiles,
        events=_make_events(n_events, profiles, catalog, seed, base_time),
        event_types=list(EVENT_TYPES),
        event_attributes=catalog,
        tags=tags,
    )


# --------------------------------------------------------------------------- the cold stream

STRIDE = 1_000_003  # prime: i * STRIDE mod population visits every customer once per pass


@dataclass
class ColdStream:
    """Events over a population of customers where each event meets a customer the stream has not
    met before (event i is for customer i * STRIDE mod population), made in chunks with only the
    customers they meet, so a run over 200,000 customers never holds them all. This is production's
    shape: a matcher's memo of profile values seen stays cold."""

    campaigns: list[dict]
    tags: list[TagSpec]
    event_attributes: dict[str, dict[str, str]]
    population: int
    seed: int
    base_time: datetime = DEFAULT_BASE_TIME

    def customer(self, i: int) -> int:
        return i * STRIDE % self.population

    def chunk(self, start: int, n: int) -> tuple[list[dict], list[dict]]:
        """Events start..start+n-1 and the profiles of the customers they meet."""
        rng = random.Random(f"{self.seed}:events:{start}")
        events = _events(rng, range(start, start + n), lambda i: f"86139{self.customer(i):08d}",
                         self.event_attributes, self.base_time + timedelta(seconds=start / 10))
        met = sorted({self.customer(i) for i in range(start, start + n)})
        return events, [_make_profile(i, self.tags, self.seed, 0.0) for i in met]


def cold_stream(n_campaigns: int, population: int, seed: int = 7) -> ColdStream:
    tags = tag_catalog(seed)
    return ColdStream(_make_campaigns(n_campaigns, tags, seed), tags, _event_attribute_catalog(seed), population, seed)
