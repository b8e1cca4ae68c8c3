"""The benchmark peers (rule-engine, JsonLogic) must return exactly what `naive_reference` says, so the
speed comparison is between equal semantics. Also pins the workload's shape and determinism.
Never asserts on timings, and never imports product code.
"""
from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.bench.peers import JsonLogicPeer, RuleEnginePeer, naive_reference
from tests.bench.workload import EVENT_TYPES, HOT_EVENT_TYPES, make_workload

PEERS = (RuleEnginePeer, JsonLogicPeer)


def _expected(campaigns, event, profile):
    return [c["id"] for c in campaigns if naive_reference(c, event, profile)]


def _cross_check(wl):
    by_id = {p["customer_id"]: p for p in wl.profiles}
    peers = [cls(wl.campaigns) for cls in PEERS]
    total = 0
    for event in wl.events:
        profile = by_id[event["customer_id"]]
        want = _expected(wl.campaigns, event, profile)
        total += len(want)
        for peer in peers:
            got = peer.match(event, profile)
            assert got == want, (type(peer).__name__, event["event_id"], profile["customer_id"])
    return total


@pytest.fixture(scope="module")
def workload():
    return make_workload(300, 2000, seed=11)


# --------------------------------------------------------------------------- randomized agreement


def test_peers_agree_with_naive_on_hard_workload(workload):
    total = _cross_check(workload)
    assert total > 200  # non-trivial: matches happen, but far from everything matches


def test_peers_agree_with_naive_when_tags_have_wrong_types():
    wl = make_workload(300, 1000, n_profiles=500, seed=3, type_noise=0.05)
    assert _cross_check(wl) > 50


# --------------------------------------------------------------------------- workload shape


def test_workload_is_deterministic_and_prefix_stable():
    a = make_workload(50, 200, n_profiles=100, seed=5)
    b = make_workload(50, 200, n_profiles=100, seed=5)
    assert json.dumps(a.campaigns) == json.dumps(b.campaigns)
    assert json.dumps(a.events) == json.dumps(b.events)
    assert json.dumps(a.profiles) == json.dumps(b.profiles)
    bigger = make_workload(80, 200, n_profiles=100, seed=5)
    assert bigger.campaigns[:50] == a.campaigns
    assert make_workload(50, 200, n_profiles=100, seed=6).campaigns != a.campaigns


def test_workload_has_no_nulls():
    # the peers treat null as missing (JsonLogic's var cannot tell them apart); keep the workload
    # free of nulls so peer results stay comparable with the product's matcher
    wl = make_workload(100, 500, n_profiles=300, seed=3, type_noise=0.05)
    assert "null" not in json.dumps([p["tags"] for p in wl.profiles])
    assert "null" not in json.dumps([e["attributes"] for e in wl.events])


def test_workload_shape(workload):
    wl = workload
    assert wl.event_types == EVENT_TYPES and len(EVENT_TYPES) == 40
    assert [c["id"] for c in wl.campaigns[:2]] == ["c00001", "c00002"]
    prios = [c["priority"] for c in wl.campaigns]
    assert len(set(prios)) < len(prios) and all(1 <= p <= 100 for p in prios)
    hot = [c for c in wl.campaigns if c["trigger"]["event"] in HOT_EVENT_TYPES]
    assert len(hot) == 90 and all("where" not in c["trigger"] for c in hot)
    cold = [c for c in wl.campaigns if c not in hot]
    assert len([c for c in cold if "where" in c["trigger"]]) == len(cold) // 2
    hot_events = sum(e["event_type"] in HOT_EVENT_TYPES for e in wl.events) / len(wl.events)
    assert 0.55 < hot_events < 0.65
    for c in wl.campaigns:
        assert set(c) == {"id", "name", "priority", "schedule", "trigger", "audience", "offer",
                          "channels", "limits"}
        assert c["channels"] == [{"sms": {"text": "hi {name}"}}] and c["limits"] == {"per_customer": 1}
        top = [k for k in c["audience"]]
        assert 3 <= len(top) <= 8
    used = set()

    def walk(cond):
        for k, v in cond.items():
            if k == "any":
                for sub in v:
                    walk(sub)
            elif k == "not":
                walk(v)
            elif k.startswith("tags."):
                used.add(k)

    for c in wl.campaigns:
        walk(c["audience"])
    assert len(used) == 200
    share_any = sum("any" in c["audience"] for c in wl.campaigns) / len(wl.campaigns)
    share_not = sum("not" in c["audience"] for c in wl.campaigns) / len(wl.campaigns)
    assert 0.2 < share_any < 0.4 and 0.1 < share_not < 0.3
    p = wl.profiles[0]
    assert set(p) == {"customer_id", "status", "name", "msisdn", "email", "timezone", "locale", "tags",
                      "consents", "channel_preference"}
    assert 150 < len(p["tags"]) < 200
    e = wl.events[0]
    assert set(e) == {"event_id", "event_type", "customer_id", "occurred_at", "source", "touchpoint",
                      "attributes"}
    assert set(e["attributes"]) == set(wl.event_attributes[e["event_type"]])


# --------------------------------------------------------------------------- hand-written corners

PROFILE = {
    "customer_id": "1", "status": "active", "name": "N", "locale": "zh-CN",
    "tags": {"tier": "gold", "n": 5, "f": 2.5, "flag": True, "zero": 0, "s": "42", "nul": None,
             "lst": ["a", 1], "txt": 'he said "hi\\there"', "word": "abc"},
}
EVENT = {"event_id": "e1", "event_type": "x.y", "customer_id": "1", "attributes": {"area": "PEK_T3", "k": 7}}

CASES = [
    # missing paths: positives false, ne / nin / exists:false true
    ({"tags.nope": "gold"}, False),
    ({"tags.nope": {"in": ["gold"]}}, False),
    ({"tags.nope": {"gte": 0}}, False),
    ({"tags.nope": {"lt": 0}}, False),
    ({"tags.nope": {"between": [0, 9]}}, False),
    ({"tags.nope": {"contains": "a"}}, False),
    ({"tags.nope": {"startswith": ""}}, False),
    ({"tags.nope": {"exists": True}}, False),
    ({"tags.nope": {"ne": "gold"}}, True),
    ({"tags.nope": {"nin": ["gold"]}}, True),
    ({"tags.nope": {"exists": False}}, True),
    ({"not": {"tags.nope": {"gte": 0}}}, True),
    ({"nickname": {"ne": "x"}}, True),  # missing profile field
    ({"event.nope": {"exists": False}}, True),
    # null counts as missing
    ({"tags.nul": {"exists": True}}, False),
    ({"tags.nul": {"ne": 3}}, True),
    ({"tags.nul": None}, False),
    # type mismatch in ordering: false, never an exception
    ({"tags.s": {"gt": 1}}, False),  # "42" vs number
    ({"tags.n": {"gt": "1"}}, False),  # 5 vs string
    ({"tags.flag": {"gte": 0}}, False),  # bool is not a number
    ({"tags.n": {"gte": True}}, False),
    ({"tags.lst": {"lt": 10}}, False),
    ({"tags.n": {"between": [1, "z"]}}, False),
    ({"not": {"tags.s": {"gt": 1}}}, True),
    ({"tags.word": {"gt": "abb"}}, True),  # both strings: ordered
    ({"tags.word": {"between": ["abc", "abd"]}}, True),
    ({"tags.f": {"between": [2.5, 2.5]}}, True),
    ({"tags.n": {"between": [5, 6.0]}}, True),
    ({"tags.n": {"lte": 4.99}}, False),
    # Python == for eq / ne / in / nin
    ({"tags.flag": 1}, True),  # True == 1
    ({"tags.zero": False}, True),  # 0 == False
    ({"tags.flag": {"ne": 1}}, False),
    ({"tags.flag": {"in": [1, "x"]}}, True),
    ({"tags.n": 5.0}, True),
    ({"tags.s": 42}, False),  # "42" != 42
    ({"tags.n": {"nin": [1, 2, 3]}}, True),
    ({"tags.lst": "a"}, False),
    # contains / startswith / exists
    ({"tags.word": {"contains": "bc"}}, True),
    ({"tags.lst": {"contains": "a"}}, True),
    ({"tags.lst": {"contains": True}}, True),  # element 1 == True
    ({"tags.n": {"contains": 5}}, False),
    ({"tags.s": {"contains": 4}}, False),  # no number-in-string coercion
    ({"tags.word": {"startswith": "ab"}}, True),
    ({"tags.word": {"startswith": "b"}}, False),
    ({"tags.n": {"startswith": "5"}}, False),
    ({"tags.txt": {"startswith": 'he said "hi\\t'}}, True),  # quotes and backslash survive escaping
    ({"tags.txt": {"contains": '"hi\\there"'}}, True),
    ({"tags.word": {"startswith": "a.c"}}, False),  # no regex metacharacters leak
    ({"tags.n": {"exists": True}}, True),
    # combinators and scopes
    ({"any": [{"tags.nope": 1}, {"tags.tier": {"in": ["gold", "platinum"]}}]}, True),
    ({"any": []}, False),
    ({"all": []}, True),
    ({"all": [{"status": "active"}, {"not": {"locale": "en-US"}}]}, True),
    ({"status": "active", "tags.n": {"gte": 6}}, False),
    ({"event.area": {"startswith": "PEK"}, "event.k": {"between": [7, 7]}}, True),
]


@pytest.fixture(scope="module")
def case_peers():
    campaigns = [{"id": f"h{i:03d}", "trigger": {"event": "x.y"}, "audience": aud}
                 for i, (aud, _) in enumerate(CASES)]
    return campaigns, [cls(campaigns) for cls in PEERS]


@pytest.mark.parametrize("i", range(len(CASES)), ids=[json.dumps(c[0]) for c in CASES])
def test_hand_written_case(i, case_peers):
    campaigns, peers = case_peers
    audience, expected = CASES[i]
    cid = campaigns[i]["id"]
    assert naive_reference(campaigns[i], EVENT, PROFILE) is expected
    for peer in peers:
        assert (cid in peer.match(EVENT, PROFILE)) is expected, type(peer).__name__


def test_where_bare_keys_are_event_attributes_and_type_is_indexed():
    campaigns = [
        {"id": "w1", "trigger": {"event": "x.y", "where": {"area": {"in": ["PEK_T3", "PVG_T2"]}}},
         "audience": {"status": "active"}},
        {"id": "w2", "trigger": {"event": "x.y", "where": {"status": "active"}}, "audience": {}},
        {"id": "w3", "trigger": {"event": "x.y", "where": {"k": {"gte": 8}}}, "audience": {}},
        {"id": "w4", "trigger": {"event": "other"}, "audience": {}},
        {"id": "w5", "trigger": {"event": "x.y", "where": {"tags.tier": "gold", "k": 7}}, "audience": {}},
    ]
    want = ["w1", "w5"]
    assert _expected(campaigns, EVENT, PROFILE) == want
    for cls in PEERS:
        assert cls(campaigns).match(EVENT, PROFILE) == want
        assert cls(campaigns).match({**EVENT, "event_type": "nothing"}, PROFILE) == []


@pytest.mark.parametrize("bad", [
    {"tags.n": {"gte": 1, "lt": 3}},
    {"tags.n": {"within": "30d"}},
    {"tags.n": {"in": "gold"}},
    {"tags.n": {"between": [1]}},
    {"any": {"tags.n": 1}},
    {"tags.a.b": 1},
])
def test_invalid_conditions_are_refused_at_construction(bad):
    for cls in PEERS:
        with pytest.raises(ValueError):
            cls([{"id": "bad", "trigger": {"event": "x.y"}, "audience": bad}])


# --------------------------------------------------------------------------- generated conditions

# small domains so that values and operands collide often (incl. True == 1, 1 == 1.0, "a" < "ab")
_scalars = st.sampled_from([None, True, False, 0, 1, 2, 1.0, 2.5, "", "a", "ab", "b", 'q"\\'])
_values = st.one_of(_scalars, st.lists(_scalars, max_size=3))
_paths = st.sampled_from(["tags.a", "tags.b", "tags.missing", "status", "event.e"])


def _leaf_spec():
    single = st.tuples(st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte", "contains", "startswith"]),
                       _scalars)
    listy = st.tuples(st.sampled_from(["in", "nin"]), st.lists(_scalars, max_size=3))
    between = st.tuples(st.just("between"), st.lists(_scalars, min_size=2, max_size=2))
    exists = st.tuples(st.just("exists"), st.booleans())
    return st.one_of(single, listy, between, exists).map(
        lambda t: t[1] if t[0] == "eq" and not isinstance(t[1], (dict, list)) else {t[0]: t[1]})


_conditions = st.recursive(
    st.dictionaries(_paths, _leaf_spec(), min_size=1, max_size=3),
    lambda inner: st.one_of(
        st.builds(lambda xs: {"any": xs}, st.lists(inner, max_size=3)),
        st.builds(lambda xs: {"all": xs}, st.lists(inner, max_size=3)),
        st.builds(lambda x: {"not": x}, inner),
        st.builds(lambda a, b: {**a, **b}, inner, inner),
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(audiences=st.lists(_conditions, min_size=1, max_size=4),
       a=_values, b=_values, status=_values, e=_values)
def test_generated_conditions_agree(audiences, a, b, status, e):
    campaigns = [{"id": f"g{i}", "trigger": {"event": "x.y"}, "audience": copy.deepcopy(aud)}
                 for i, aud in enumerate(audiences)]
    profile = {"customer_id": "1", "status": status, "tags": {"a": a, "b": b}}
    event = {"event_type": "x.y", "attributes": {"e": e}}
    want = _expected(campaigns, event, profile)
    for cls in PEERS:
        assert cls(campaigns).match(event, profile) == want, cls.__name__


# --------------------------------------------------------------------------- the closures baseline, the cold stream


def test_closures_agree_with_the_naive_evaluator(workload):
    from datetime import datetime, timezone

    from marketing.domain.matching import sources
    from marketing.domain.models import CustomerEvent, Profile
    from marketing.domain.naive import naive_match
    from tests.bench.closures import ClosurePeer
    from tests.bench.run import bench_catalog, load_campaigns

    now = datetime(2026, 11, 1, 12, tzinfo=timezone.utc)
    peer = ClosurePeer(load_campaigns(workload.campaigns, bench_catalog(workload)), now)
    profiles = {p["customer_id"]: Profile.model_validate(p) for p in workload.profiles}
    matched = 0
    for raw in workload.events[:500]:
        event, profile = CustomerEvent.model_validate(raw), profiles[raw["customer_id"]]
        got = peer.match(event.event_type, sources(event.attributes, profile.fields(), profile.tags), now.timestamp())
        want = naive_match(workload.campaigns, raw, profile.model_dump(mode="json"), now)
        assert got == want, raw["event_id"]
        matched += len(got[0])
    assert matched > 20


def test_the_cold_stream_meets_a_new_customer_with_every_event():
    from tests.bench.workload import cold_stream

    stream = cold_stream(20, population=5_000, seed=3)
    first, profiles = stream.chunk(0, 2_000)
    second, _ = stream.chunk(2_000, 2_000)
    seen = [e["customer_id"] for e in first + second]
    assert len(set(seen)) == len(seen) == 4_000
    assert {p["customer_id"] for p in profiles} == {e["customer_id"] for e in first}
    assert stream.chunk(2_000, 2_000)[0] == second  # a chunk is the same whenever it is made
