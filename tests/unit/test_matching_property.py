"""The indexed, compiled matcher must say exactly what the naive reference says (SPEC 4.3 semantics).

Random live and not-live campaigns over a few event types, with random `trigger.where` tests on the
events' attributes and random audiences (every operator, nested any/all/not, missing tags, mixed
types) are matched against random events and profiles by `CampaignIndex` and by `naive_match`.

Buckets of many campaigns are evaluated on bitsets rather than by compiled code; every property
runs in both modes (`bitset` lowers the size from which a bucket uses bitsets to one campaign), and
one runs at full size, past the real threshold.
"""
from __future__ import annotations

from datetime import timedelta

from contextlib import contextmanager
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketing.domain import matching
from marketing.domain.campaigns import load_campaign
from marketing.domain.conditions import conjuncts, evaluate, paths
from marketing.domain.matching import CampaignIndex, describe, sources
from marketing.domain.models import Profile
from marketing.domain.naive import naive_match
from tests.unit.factories import CATALOG, NOW, a_definition, an_event_record, iso

# Event types, and for each the attributes a where may test with the values events carry.
ATTRIBUTES = {
    "app.login": {"platform": ["ios", "android", "harmonyos"], "app": ["hall", "wallet"]},
    "billing.balance_low": {"balance": [0, 5.5, 10, 20, 20.0], "threshold": [10, 20]},
    "data.usage_threshold": {"percent": [50, 80, 100], "plan": ["4G-58", "5G-129"], "used_mb": [0, 1024]},
}
REQUIRED = {"billing.balance_low": "balance", "data.usage_threshold": "percent"}
EVENT_TYPES = sorted(ATTRIBUTES)
TRIGGER_TYPES = EVENT_TYPES + ["store.visit"]  # a type no generated event has

TAGS = [f"tags.t{i}" for i in range(8)]
FIELDS = ["status", "name", "locale", "consents.marketing", "channel_preference"]

SCALARS = ["gold", "silver", "4G-58", "5G", "travel", "sms", "active", "a", "", 0, 1, 3, -2, 2.5, 3.0, True, False, None]
TAG_VALUES = SCALARS[:-1] + [
    ["travel", "games"], ["a"], [], [1, 3],
    iso(NOW - timedelta(hours=1)), iso(NOW - timedelta(days=2)), iso(NOW - timedelta(days=30)),  # on a boundary
    iso(NOW - timedelta(days=40)), iso(NOW + timedelta(days=1)),
    "2026-11-20T08:00:00", "not a time",
]
NUMBERS = [-2, -1, 0, 1, 2.5, 3, 3.0, 20]
STRINGS = ["4G", "4G-58", "gold", "m", "5G-129", "a"]
scalar = st.sampled_from(SCALARS)
comparable = st.sampled_from(NUMBERS) | st.sampled_from(STRINGS)
pair = st.lists(st.sampled_from(NUMBERS), min_size=2, max_size=2).map(sorted) | st.lists(
    st.sampled_from(STRINGS), min_size=2, max_size=2).map(sorted)
OPERANDS = {
    "eq": scalar, "ne": scalar, "contains": scalar,
    "in": st.lists(scalar, min_size=1, max_size=3), "nin": st.lists(scalar, min_size=1, max_size=3),
    "gt": comparable, "gte": comparable, "lt": comparable, "lte": comparable,
    "between": pair, "exists": st.booleans(),
    "startswith": st.sampled_from(["4G", "g", "", "5G", "tr"]),
    "within": st.sampled_from(["1h", "2d", "30d", "60d"]),
}


@st.composite
def a_test(draw):
    if draw(st.integers(0, 4)) == 0:
        return draw(scalar)  # the bare-value form of eq
    ops = draw(st.lists(st.sampled_from(sorted(OPERANDS)), min_size=1, max_size=2, unique=True))
    return {op: draw(OPERANDS[op]) for op in ops}


@st.composite
def a_condition(draw, paths, depth, min_size=0):
    combinators = ["any", "all", "not"] if depth > 0 else []
    keys = draw(st.lists(st.sampled_from(paths + combinators), min_size=min_size, max_size=3, unique=True))
    out = {}
    for key in keys:
        if key in ("any", "all"):
            out[key] = draw(st.lists(a_condition(paths, depth - 1), min_size=1, max_size=3))
        elif key == "not":
            out[key] = draw(a_condition(paths, depth - 1))
        else:
            out[key] = draw(a_test())
    return out


@st.composite
def a_where(draw, event_type):
    attributes = ATTRIBUTES.get(event_type, {"store_id": ["S1"]})
    names = draw(st.lists(st.sampled_from(sorted(attributes)), max_size=2, unique=True))
    where = {}
    for name in names:
        values = attributes[name]
        key = f"event.{name}" if draw(st.integers(0, 5)) == 0 else name
        match draw(st.sampled_from(["bare", "eq", "in", "gte"])):
            case "bare":
                where[key] = draw(st.sampled_from(values))
            case "eq":
                where[key] = {"eq": draw(st.sampled_from(values + [80, "ios"]))}
            case "in":
                where[key] = {"in": draw(st.lists(st.sampled_from(values + ["ios", 20]), min_size=1, max_size=3))}
            case "gte":
                where[key] = {"gte": draw(st.sampled_from([v for v in values if not isinstance(v, bool)] + [10, "b"]))}
    return where


SCHEDULES = [
    {"start": iso(NOW - timedelta(days=30)), "end": iso(NOW + timedelta(days=30))},
    {"start": iso(NOW), "end": iso(NOW + timedelta(days=1))},              # starts now: live
    {"start": iso(NOW - timedelta(days=1)), "end": iso(NOW)},              # ends now: live
    {"start": iso(NOW + timedelta(seconds=1)), "end": iso(NOW + timedelta(days=9))},  # not yet
    {"start": iso(NOW - timedelta(days=9)), "end": iso(NOW - timedelta(seconds=1))},  # over
]


def a_profile_with(draw, tags):
    return Profile.model_validate({
        "customer_id": "8613800000001",
        "status": draw(st.sampled_from(["active", "suspended"])),
        "name": draw(st.sampled_from(["李雷", None, "gold"])),
        "locale": draw(st.sampled_from(["zh-CN", "en-US"])),
        "tags": tags,
        "consents": {"marketing": draw(st.booleans()), "sms": draw(st.booleans())},
        "channel_preference": draw(st.lists(st.sampled_from(["sms", "app_push", "email"]), unique=True)),
    })


def some_tags(draw):
    """About 8 tags, each missing a quarter of the time, with values of every type."""
    return {name[5:]: draw(st.sampled_from(TAG_VALUES)) for name in TAGS if draw(st.integers(0, 3)) > 0}


@st.composite
def a_scenario(draw):
    """(definitions, [(event, profile)]): most campaigns and events share one event type, so most
    campaigns are triggered and their audiences actually decide."""
    focus = draw(st.sampled_from(EVENT_TYPES))

    def some_type(others):
        return focus if draw(st.integers(0, 3)) > 0 else draw(st.sampled_from(others))

    definitions = []
    for i in range(draw(st.integers(1, 8))):
        event_type = some_type(TRIGGER_TYPES)
        event_paths = [f"event.{a}" for a in ATTRIBUTES.get(event_type, {})]
        definitions.append(a_definition(
            id=f"c{i:02d}",
            priority=draw(st.integers(0, 100)),
            schedule=draw(st.sampled_from(SCHEDULES)) if draw(st.integers(0, 3)) == 0 else SCHEDULES[0],
            trigger={"event": event_type, "where": draw(a_where(event_type))},
            audience=draw(a_condition(TAGS + FIELDS + event_paths, depth=draw(st.integers(0, 2)), min_size=1)),
        ))
    cases = []
    for _ in range(draw(st.integers(1, 3))):
        event_type = some_type(EVENT_TYPES)
        attributes = {name: draw(st.sampled_from(values)) for name, values in ATTRIBUTES[event_type].items()
                      if name == REQUIRED.get(event_type) or draw(st.integers(0, 3)) > 0}
        event = CATALOG.parse(an_event_record(event_type, **attributes), NOW)
        cases.append((event, a_profile_with(draw, some_tags(draw))))
    return definitions, cases


def _load(definitions):
    campaigns = []
    for definition in definitions:
        load = load_campaign(definition, CATALOG)
        assert load.ok, [str(e) for e in load.errors]  # the generator only writes valid definitions
        campaigns.append(load.campaign)
    return campaigns


def _naive(definitions, event, profile):
    return naive_match(definitions, event.model_dump(mode="json"), profile.model_dump(mode="json"), NOW)


MODES = ["compiled", "bitset"]


@contextmanager
def buckets(mode):
    """`bitset`: every bucket of settled campaigns is evaluated on bitsets, however small."""
    if mode == "bitset":
        with mock.patch.object(matching, "BITSET_MIN_GROUP", 1):
            yield
    else:
        yield


def _match(index, event, profile):
    return index.match(event.event_type, event.attributes, profile.fields(), profile.tags, NOW.timestamp())


def assert_same_as_reference(index, definitions, event, profile):
    match = _match(index, event, profile)
    eligible, rejected = _naive(definitions, event, profile)
    assert sorted(c.id for c in match.eligible) == sorted(eligible)
    assert sorted(c.id for c, _ in match.rejected) == sorted(rejected)
    assert match.considered == len(eligible) + len(rejected)
    return match


def assert_reasons_are_false(match, event, profile):
    """Each rejection names a false audience condition: a top-level test or combinator (as
    `describe` writes it), or a path whose tests, taken together, are false for the customer."""
    values = sources(event.attributes, profile.fields(), profile.tags)
    now = NOW.timestamp()
    for campaign, reason in match.rejected:
        parts = conjuncts(campaign.audience_rule)
        named = [node for node in parts if describe(node) == reason]
        on_path = [node for node in parts if {p.text for p in paths(node)} == {reason}]
        assert named or on_path, f"{campaign.id}: reason {reason!r} names no condition of the audience"
        assert any(not evaluate(node, values, now) for node in named) or (
            on_path and not all(evaluate(node, values, now) for node in on_path)
        ), f"{campaign.id}: rejected for {reason!r}, but that holds for {profile.tags} (audience {campaign.audience})"


def assert_each_profile_agrees_on_a_login(definitions, profiles):
    """One app login matched for each profile: the reference's verdicts, and true reasons."""
    index = CampaignIndex(_load(definitions), NOW)
    event = CATALOG.parse(an_event_record("app.login", platform="ios"), NOW)
    for profile in profiles:
        assert_reasons_are_false(assert_same_as_reference(index, definitions, event, profile), event, profile)


@pytest.mark.parametrize("mode", MODES)
@settings(max_examples=120)
@given(scenario=a_scenario())
def test_the_index_matches_exactly_what_the_naive_reference_matches(mode, scenario):
    definitions, cases = scenario
    with buckets(mode):
        index = CampaignIndex(_load(definitions), NOW)
        for event, profile in cases:
            assert_same_as_reference(index, definitions, event, profile)


@st.composite
def single_tests(draw):
    """Many campaigns, each with a one-test audience: every one of them decides on its own test."""
    definitions = [
        a_definition(id=f"c{i:02d}", audience={draw(st.sampled_from(TAGS + FIELDS)): draw(a_test())})
        for i in range(draw(st.integers(1, 20)))
    ]
    return definitions, a_profile_with(draw, some_tags(draw))


@pytest.mark.parametrize("mode", MODES)
@settings(max_examples=200)
@given(scenario=single_tests())
def test_every_operator_on_every_kind_of_value_agrees_with_the_reference(mode, scenario):
    definitions, profile = scenario
    event = CATALOG.parse(an_event_record("app.login", platform="ios"), NOW)
    with buckets(mode):
        assert_same_as_reference(CampaignIndex(_load(definitions), NOW), definitions, event, profile)


@st.composite
def one_index_many_customers(draw):
    """Single-test campaigns on a few tags, then many customers through the same index: a value
    class the index keeps for one customer's value must hold for every value of that class."""
    definitions = [
        a_definition(id=f"c{i:02d}", audience={draw(st.sampled_from(TAGS[:3])): draw(a_test())})
        for i in range(draw(st.integers(1, 20)))
    ]
    customers = [a_profile_with(draw, {f"t{i}": draw(st.sampled_from(TAG_VALUES)) for i in range(3)
                                       if draw(st.integers(0, 5)) > 0}) for _ in range(12)]
    return definitions, customers


@pytest.mark.parametrize("mode", MODES)
@settings(max_examples=150)
@given(scenario=one_index_many_customers())
def test_what_the_index_keeps_from_one_customer_holds_for_the_next(mode, scenario):
    definitions, customers = scenario
    event = CATALOG.parse(an_event_record("app.login", platform="ios"), NOW)
    with buckets(mode):
        index = CampaignIndex(_load(definitions), NOW)
        for profile in customers:
            assert_same_as_reference(index, definitions, event, profile)


SHARED_PATHS = ["status", "consents.marketing", "tags.t0", "tags.t1", "tags.t2"]
SHARED_VALUES = ["gold", "silver", "basic", "active", "suspended", True, False, 1, 0]


@st.composite
def a_crowded_bucket(draw):
    """Many campaigns on one event type whose audiences share equality/`in` tests on a few paths:
    the shape for which the index partitions a bucket by audience value, level under level."""
    definitions = []
    for i in range(draw(st.integers(3, 30))):
        audience = {}
        for path in draw(st.lists(st.sampled_from(SHARED_PATHS), min_size=1, max_size=4, unique=True)):
            kind = draw(st.integers(0, 5))
            if kind <= 2:
                audience[path] = draw(st.sampled_from(SHARED_VALUES))
            elif kind <= 4:
                audience[path] = {"in": draw(st.lists(st.sampled_from(SHARED_VALUES), min_size=1, max_size=3))}
            else:
                audience[path] = draw(a_test())
        if draw(st.integers(0, 4)) == 0:
            audience["tags.t3"] = draw(a_test())
        if draw(st.integers(0, 4)) == 0:
            audience["any"] = draw(st.lists(a_condition(SHARED_PATHS + TAGS, depth=1, min_size=1), min_size=1, max_size=2))
        where = {"platform": draw(st.sampled_from(["ios", "android"]))} if draw(st.integers(0, 5)) == 0 else {}
        definitions.append(a_definition(id=f"c{i:02d}", trigger={"event": "app.login", "where": where},
                                        audience=audience))
    profiles = []
    for _ in range(draw(st.integers(1, 4))):
        tags = {f"t{i}": draw(st.sampled_from(SHARED_VALUES + TAG_VALUES[:4])) for i in range(4) if draw(st.integers(0, 4)) > 0}
        profiles.append(Profile.model_validate({
            "customer_id": "8613800000001", "status": draw(st.sampled_from(["active", "suspended"])),
            "consents": {"marketing": draw(st.booleans())}, "tags": tags,
        }))
    return definitions, profiles


@pytest.mark.parametrize("mode", MODES)
@settings(max_examples=60)
@given(scenario=a_crowded_bucket(), platform=st.sampled_from(["ios", "android"]))
def test_a_crowded_bucket_agrees_with_the_reference(mode, scenario, platform):
    definitions, profiles = scenario
    event = CATALOG.parse(an_event_record("app.login", platform=platform), NOW)
    with buckets(mode):
        index = CampaignIndex(_load(definitions), NOW)
        for profile in profiles:
            assert_reasons_are_false(assert_same_as_reference(index, definitions, event, profile), event, profile)


@pytest.mark.parametrize("mode", MODES)
@settings(max_examples=50)
@given(scenario=a_scenario())
def test_a_rejection_names_an_audience_condition_that_is_false_for_the_customer(mode, scenario):
    definitions, cases = scenario
    with buckets(mode):
        index = CampaignIndex(_load(definitions), NOW)
        for event, profile in cases:
            assert_reasons_are_false(_match(index, event, profile), event, profile)


@st.composite
def campaigns_sharing_tests(draw):
    """Many campaigns built from a pool of a few tests, so the same test (on the same path, with
    the same operand) comes first for several of them and later for others: the compiled group
    evaluates such a test once for all of them."""
    pool = draw(st.lists(st.tuples(st.sampled_from(TAGS[:3] + FIELDS[:3]), a_test()), min_size=2, max_size=4))
    definitions = []
    for i in range(draw(st.integers(2, 12))):
        chosen = draw(st.lists(st.sampled_from(range(len(pool))), min_size=1, max_size=3, unique=True))
        audience = {pool[j][0]: pool[j][1] for j in chosen}
        if draw(st.booleans()):
            audience.update(draw(a_condition(TAGS[3:], depth=1)))
        definitions.append(a_definition(id=f"c{i:02d}", priority=i, audience=audience))
    profiles = [a_profile_with(draw, some_tags(draw)) for _ in range(draw(st.integers(1, 3)))]
    return definitions, profiles


@pytest.mark.parametrize("mode", MODES)
@settings(max_examples=80)
@given(scenario=campaigns_sharing_tests())
def test_campaigns_that_share_tests_agree_with_the_reference(mode, scenario):
    with buckets(mode):
        assert_each_profile_agrees_on_a_login(*scenario)


def test_a_shared_test_refuses_each_campaign_with_its_own_reason():
    # `status: active` comes first for three campaigns and is evaluated once; each refused campaign
    # still names the path, and a campaign whose next test fails names that one.
    definitions = [
        a_definition(id="a", audience={"status": "active", "tags.value_tier": "gold"}),
        a_definition(id="b", audience={"status": "active", "tags.segment": "campus"}),
        a_definition(id="c", audience={"status": "active"}),
    ]
    event = CATALOG.parse(an_event_record("app.login", platform="ios"), NOW)
    index = CampaignIndex(_load(definitions), NOW)
    suspended = Profile(customer_id="8613800000001", status="suspended", tags={"value_tier": "gold"})
    active = Profile(customer_id="8613800000001", status="active", tags={"value_tier": "gold"})
    assert sorted((c.id, r) for c, r in _match(index, event, suspended).rejected) == [
        ("a", "status"), ("b", "status"), ("c", "status")]
    match = _match(index, event, active)
    assert sorted(c.id for c in match.eligible) == ["a", "c"]
    assert [(c.id, r) for c, r in match.rejected] == [("b", "tags.segment")]


FULL_SIZE = matching.BITSET_MIN_GROUP + 44


@st.composite
def a_full_size_bucket(draw):
    """Past the real bitset threshold: a few hundred campaigns built from a few dozen audiences."""
    audiences = draw(st.lists(a_condition(TAGS[:4] + FIELDS[:2], depth=1, min_size=1), min_size=5, max_size=25))
    definitions = [a_definition(id=f"c{i:03d}", priority=i % 7, audience=audiences[i % len(audiences)])
                   for i in range(FULL_SIZE)]
    profiles = [a_profile_with(draw, some_tags(draw)) for _ in range(draw(st.integers(1, 3)))]
    return definitions, profiles


@settings(max_examples=10)
@given(scenario=a_full_size_bucket())
def test_a_bucket_past_the_bitset_threshold_agrees_with_the_reference(scenario):
    assert_each_profile_agrees_on_a_login(*scenario)


def test_in_a_large_bucket_the_reason_still_names_the_condition_that_failed():
    # BUG (matching.py, _BitGroup.__init__, the `reasons` rows): in a bucket of 256+ campaigns a
    # campaign's tests on one path are grouped, and the reason is `describe(nodes[0])` of the first
    # of them, whether or not it is the one that failed. Here `any(tags.value_tier)` holds
    # (the customer is gold) and `not(tags.value_tier)` (not gold) is what refuses them, yet the
    # decision record says `any(tags.value_tier)`. A small bucket (compiled code) says `not(...)`.
    audience = {"any": [{"tags.value_tier": "gold"}, {"tags.value_tier": "platinum"}],
                "not": {"tags.value_tier": "gold"}}
    fillers = [a_definition(id=f"filler-{i:03d}", audience={"tags.segment": "campus"}) for i in range(FULL_SIZE)]
    definitions = [a_definition(id="not-gold-after-all", audience=audience)] + fillers
    index = CampaignIndex(_load(definitions), NOW)
    event = CATALOG.parse(an_event_record("app.login", platform="ios"), NOW)
    profile = Profile(customer_id="8613800000001", tags={"value_tier": "gold", "segment": "campus"})
    match = assert_same_as_reference(index, definitions, event, profile)
    assert [(c.id, reason) for c, reason in match.rejected] == [("not-gold-after-all", "not(tags.value_tier)")]


def test_a_rejection_reason_is_the_path_or_the_combinator_over_its_paths():
    definitions = [
        a_definition(id="tier", audience={"status": "active", "tags.value_tier": "gold"}),
        a_definition(id="either", audience={"any": [{"tags.value_tier": "gold"}, {"tags.intl_calls_90d": {"gte": 3}}]}),
        a_definition(id="no-complaint", audience={"not": {"tags.last_complaint_at": {"within": "30d"}}}),
    ]
    event = CATALOG.parse(an_event_record("app.login", platform="ios"), NOW)
    profile = Profile(customer_id="8613800000001",
                      tags={"value_tier": "silver", "last_complaint_at": iso(NOW - timedelta(days=2))})
    match = _match(CampaignIndex(_load(definitions), NOW), event, profile)
    assert sorted((c.id, reason) for c, reason in match.rejected) == [
        ("either", "any(tags.value_tier,tags.intl_calls_90d)"),
        ("no-complaint", "not(tags.last_complaint_at)"),
        ("tier", "tags.value_tier"),
    ]
    assert match.eligible == []


def test_the_index_holds_only_live_campaigns_and_knows_when_it_goes_stale():
    definitions = [
        a_definition(id="live", schedule=SCHEDULES[0]),
        a_definition(id="later", schedule=SCHEDULES[3]),
        a_definition(id="over", schedule=SCHEDULES[4]),
    ]
    index = CampaignIndex(_load(definitions), NOW)
    assert sorted(index.campaigns) == ["live"] and len(index) == 1
    assert index.valid_until == NOW + timedelta(seconds=1)  # when `later` starts
    assert not index.stale(NOW) and index.stale(NOW + timedelta(seconds=1))


def test_an_event_type_no_campaign_listens_to_matches_nothing():
    index = CampaignIndex(_load([a_definition()]), NOW)
    match = index.match("store.visit", {"store_id": "S1"}, {}, {}, NOW.timestamp())
    assert (match.eligible, match.rejected, match.considered) == ([], [], 0)
