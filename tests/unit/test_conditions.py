"""The condition language (SPEC 4.3): operators, combinators, missing paths, typing and path scoping.

Every verdict is checked three ways and must agree: the parsed tree (`conditions.evaluate`), the
compiled index (`CampaignIndex.match`) and the naive reference (`naive_match`).
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketing.domain.conditions import EVENT, FIELD, TAG, Scope, evaluate, parse
from marketing.domain.matching import CampaignIndex, sources
from marketing.domain.naive import naive_match
from tests.unit.factories import NOW, a_campaign, a_definition, a_profile, an_event, iso


def _three_ways(definition, event, profile, now):
    """(tree says the audience holds, index verdict, naive verdict) — None when not triggered."""
    campaign = a_campaign(**{k: v for k, v in definition.items() if k in ("trigger", "audience")})
    now_ts = now.timestamp()
    match = CampaignIndex([campaign], now).match(
        event.event_type, event.attributes, profile.fields(), profile.tags, now_ts)
    index = True if match.eligible else False if match.rejected else None
    eligible, rejected = naive_match([a_definition(**definition)], event.model_dump(mode="json"),
                                     profile.model_dump(mode="json"), now)
    naive = True if eligible else False if rejected else None
    return campaign, index, naive


def holds(audience, *, tags=None, profile=None, event=None, now=NOW) -> bool:
    """Whether `audience` holds for the customer, asserting the three evaluators agree."""
    profile = profile or a_profile(tags=tags or {})
    event = event or an_event("app.login", platform="ios")
    campaign, index, naive = _three_ways({"audience": audience}, event, profile, now)
    tree = evaluate(campaign.audience_rule, sources(event.attributes, profile.fields(), profile.tags), now.timestamp())
    assert index == naive == tree, f"tree={tree} index={index} naive={naive} for {audience} on {profile.tags}"
    return tree


def triggers(event, where, *, profile=None, now=NOW) -> bool:
    """Whether `where` lets the event trigger the campaign, asserting the three evaluators agree."""
    profile = profile or a_profile()
    trigger = {"event": event.event_type, "where": where}
    campaign, index, naive = _three_ways({"trigger": trigger}, event, profile, now)
    tree = evaluate(campaign.where_rule, sources(event.attributes, profile.fields(), profile.tags), now.timestamp())
    assert (index is not None) == (naive is not None) == tree, f"tree={tree} index={index} naive={naive} for {where}"
    return tree


def errors_of(condition, where="audience", scope=Scope()) -> list[str]:
    _, errors = parse(condition, where, scope)
    return [str(e) for e in errors]


# ---------------------------------------------------------------- operators

@pytest.mark.parametrize(
    ("test", "tier", "expected"),
    [
        ("gold", "gold", True),
        ("gold", "silver", False),
        ({"eq": "gold"}, "gold", True),
        ({"eq": "gold"}, "Gold", False),
        ({"ne": "gold"}, "silver", True),
        ({"ne": "gold"}, "gold", False),
        ({"in": ["gold", "platinum"]}, "platinum", True),
        ({"in": ["gold", "platinum"]}, "silver", False),
        ({"nin": ["gold", "platinum"]}, "silver", True),
        ({"nin": ["gold", "platinum"]}, "gold", False),
    ],
)
def test_equality_and_membership(test, tier, expected):
    assert holds({"tags.value_tier": test}, tags={"value_tier": tier}) is expected


@pytest.mark.parametrize("value", ["\x00k1", "\x00k3", "'); raise SystemExit('", "M", "tg", "{name}"])
def test_an_operand_is_a_value_never_code(value):
    # compiled code holds campaign values as constants: one that looks like code, a local's name or
    # the compiler's own placeholders is still just compared with the customer's value
    assert holds({"tags.tier": value}, tags={"tier": value})
    assert holds({"tags.tier": {"in": [value, "gold"]}}, tags={"tier": value})
    assert not holds({"tags.tier": value}, tags={"tier": "gold"})
    assert holds({f"tags.{value}": {"exists": True}}, tags={value: 1})


@pytest.mark.parametrize(
    ("op", "operand", "tenure", "expected"),
    [
        ("gt", 24, 26, True), ("gt", 26, 26, False),
        ("gte", 26, 26, True), ("gte", 27, 26, False),
        ("lt", 27, 26, True), ("lt", 26, 26, False),
        ("lte", 26, 26, True), ("lte", 25, 26, False),
        ("gte", 25.5, 26, True), ("lt", 26, 25.9, True),
        ("eq", 26, 26, True), ("eq", 26.0, 26, True),
    ],
)
def test_number_comparisons(op, operand, tenure, expected):
    assert holds({"tags.tenure_months": {op: operand}}, tags={"tenure_months": tenure}) is expected


@pytest.mark.parametrize(
    ("op", "operand", "plan", "expected"),
    [("gte", "5G", "5G-129", True), ("lt", "5G", "4G-128", True), ("gt", "5G-199", "5G-129", False), ("lte", "4G-128", "4G-128", True)],
)
def test_string_comparisons_are_lexicographic(op, operand, plan, expected):
    assert holds({"tags.plan": {op: operand}}, tags={"plan": plan}) is expected


@pytest.mark.parametrize(
    ("value", "operand"),
    [
        ("26", 3),        # a string is not a number
        (26, "3"),        # a number is not a string
        (True, 0),        # bool is not a number
        (False, 0),
        (("a", "b"), 0),  # nor is a list
    ],
)
@pytest.mark.parametrize("op", ["gt", "gte", "lt", "lte"])
def test_a_type_mix_is_false_never_an_error(op, value, operand):
    assert holds({"tags.x": {op: operand}}, tags={"x": list(value) if isinstance(value, tuple) else value}) is False


@pytest.mark.parametrize(
    ("arpu", "expected"),
    [(50, True), (250, True), (168.5, True), (49.99, False), (250.01, False), ("168.5", False), (True, False)],
)
def test_between_is_inclusive_and_typed(arpu, expected):
    assert holds({"tags.arpu": {"between": [50, 250]}}, tags={"arpu": arpu}) is expected


def test_between_strings():
    assert holds({"tags.plan": {"between": ["4G", "4G-99"]}}, tags={"plan": "4G-58"}) is True
    assert holds({"tags.plan": {"between": ["4G", "4G-99"]}}, tags={"plan": "5G-129"}) is False


@pytest.mark.parametrize(
    ("tags", "test", "expected"),
    [
        ({"roaming_pack": False}, {"exists": True}, True),   # false is a value
        ({"roaming_pack": 0}, {"exists": True}, True),
        ({}, {"exists": True}, False),
        ({}, {"exists": False}, True),
        ({"roaming_pack": True}, {"exists": False}, False),
        ({"roaming_pack": None}, {"exists": True}, False),   # a null tag is no tag
    ],
)
def test_exists(tags, test, expected):
    assert holds({"tags.roaming_pack": test}, tags=tags) is expected


@pytest.mark.parametrize(
    ("value", "operand", "expected"),
    [
        (["travel", "games"], "travel", True),
        (["travel", "games"], "music", False),
        (["travel", "games"], "trav", False),       # list membership, not substring of an element
        ("frequent traveller", "travel", True),     # substring of a string
        ("frequent traveller", "music", False),
        ([1, 2, 3], 2, True),
        (12345, 2, False),
        (12345, "2", False),
    ],
)
def test_contains(value, operand, expected):
    assert holds({"tags.interests": {"contains": operand}}, tags={"interests": value}) is expected


@pytest.mark.parametrize(
    ("plan", "expected"), [("4G-128", True), ("5G-129", False), ("4g-128", False), (4, False), (["4G-128"], False)]
)
def test_startswith(plan, expected):
    assert holds({"tags.plan": {"startswith": "4G"}}, tags={"plan": plan}) is expected


@pytest.mark.parametrize(
    ("last_recharge_at", "expected"),
    [
        (iso(NOW - timedelta(days=10)), True),
        (iso(NOW - timedelta(days=60)), True),                     # the boundary is inside
        (iso(NOW - timedelta(days=60, seconds=1)), False),
        (iso(NOW + timedelta(hours=1)), True),                     # a future timestamp is recent
        ("2026-11-20T08:00:00Z", True),
        ("2026-11-20T08:00:00", False),                            # no timezone: not a timestamp
        ("last week", False),
        (1764500000, False),                                       # epoch numbers are not timestamps
    ],
)
def test_within_a_duration_of_a_fixed_now(last_recharge_at, expected):
    assert holds({"tags.last_recharge_at": {"within": "60d"}}, tags={"last_recharge_at": last_recharge_at}) is expected


def test_within_follows_the_clock_it_is_given():
    tags = {"last_complaint_at": iso(NOW - timedelta(days=20))}
    assert holds({"tags.last_complaint_at": {"within": "30d"}}, tags=tags, now=NOW) is True
    assert holds({"tags.last_complaint_at": {"within": "30d"}}, tags=tags, now=NOW + timedelta(days=11)) is False


def test_several_operators_on_one_path_must_all_hold():
    audience = {"tags.tenure_months": {"gte": 12, "lt": 24}}
    assert holds(audience, tags={"tenure_months": 12}) is True
    assert holds(audience, tags={"tenure_months": 24}) is False
    assert holds(audience, tags={"tenure_months": 6}) is False


# ---------------------------------------------------------------- missing paths

@pytest.mark.parametrize(
    ("test", "expected"),
    [
        ("gold", False),
        ({"eq": None}, False),          # missing equals nothing, not even null
        ({"in": ["gold"]}, False),
        ({"gt": 0}, False),
        ({"gte": 0}, False),
        ({"lt": 0}, False),
        ({"lte": 0}, False),
        ({"between": [0, 1]}, False),
        ({"exists": True}, False),
        ({"contains": "gold"}, False),
        ({"startswith": "g"}, False),
        ({"within": "30d"}, False),
        ({"ne": "gold"}, True),
        ({"ne": None}, True),
        ({"nin": ["gold"]}, True),
        ({"exists": False}, True),
    ],
)
def test_a_missing_tag_fails_positive_tests_and_passes_negative_ones(test, expected):
    assert holds({"tags.value_tier": test}, tags={"plan": "4G-58"}) is expected


def test_a_missing_profile_field_is_missing_too():
    nameless = a_profile(name=None)
    assert holds({"name": {"exists": True}}, profile=nameless) is False
    assert holds({"name": {"ne": "李雷"}}, profile=nameless) is True
    assert holds({"name": {"exists": True}}, profile=a_profile()) is True


def test_not_of_a_positive_test_on_a_missing_path_holds():
    assert holds({"not": {"tags.last_complaint_at": {"within": "30d"}}}, tags={}) is True


# ---------------------------------------------------------------- combinators

def test_keys_of_a_map_are_anded():
    audience = {"status": "active", "tags.value_tier": "gold"}
    assert holds(audience, tags={"value_tier": "gold"}) is True
    assert holds(audience, profile=a_profile(status="suspended", tags={"value_tier": "gold"})) is False
    assert holds(audience, tags={"value_tier": "silver"}) is False


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"value_tier": "gold", "intl_calls_90d": 0}, True),
        ({"value_tier": "basic", "intl_calls_90d": 3}, True),
        ({"value_tier": "basic", "intl_calls_90d": 2}, False),
        ({}, False),
    ],
)
def test_any_holds_when_one_branch_does(tags, expected):
    audience = {"any": [{"tags.value_tier": {"in": ["gold", "platinum"]}}, {"tags.intl_calls_90d": {"gte": 3}}]}
    assert holds(audience, tags=tags) is expected


def test_all_holds_when_every_branch_does():
    audience = {"all": [{"tags.arpu": {"gte": 100}}, {"tags.arpu": {"lt": 200}}, {"tags.plan": {"startswith": "5G"}}]}
    assert holds(audience, tags={"arpu": 150, "plan": "5G-199"}) is True
    assert holds(audience, tags={"arpu": 250, "plan": "5G-199"}) is False
    assert holds(audience, tags={"arpu": 150, "plan": "4G-88"}) is False


def test_not_negates_its_whole_map():
    audience = {"not": {"tags.segment": "campus", "tags.tenure_months": {"lt": 6}}}
    assert holds(audience, tags={"segment": "campus", "tenure_months": 3}) is False
    assert holds(audience, tags={"segment": "campus", "tenure_months": 12}) is True
    assert holds(audience, tags={"segment": "mass", "tenure_months": 3}) is True


def test_combinators_nest():
    audience = {
        "status": "active",
        "any": [
            {"all": [{"tags.value_tier": "gold"}, {"not": {"tags.roaming_pack": True}}]},
            {"not": {"any": [{"tags.churn_risk": {"gte": 0.6}}, {"tags.lifecycle_stage": "decline"}]}},
        ],
    }
    assert holds(audience, tags={"value_tier": "gold", "roaming_pack": False, "churn_risk": 0.9}) is True
    assert holds(audience, tags={"value_tier": "gold", "roaming_pack": True, "churn_risk": 0.9}) is False
    assert holds(audience, tags={"value_tier": "basic", "churn_risk": 0.1, "lifecycle_stage": "mature"}) is True
    assert holds(audience, tags={"value_tier": "basic", "lifecycle_stage": "decline"}) is False


def test_an_empty_audience_is_everyone_and_not_of_nothing_is_no_one():
    assert holds({}) is True
    assert holds({"not": {}}) is False


# ---------------------------------------------------------------- path scoping

def test_in_trigger_where_bare_keys_are_event_attributes():
    event = an_event("app.login", platform="ios")
    assert triggers(event, {"platform": "ios"}) is True
    assert triggers(event, {"platform": {"in": ["android", "harmonyos"]}}) is False
    assert triggers(event, {"event.platform": "ios"}) is True


def test_in_trigger_where_tags_are_still_profile_tags():
    event = an_event("app.login", platform="ios")
    assert triggers(event, {"tags.value_tier": "gold"}, profile=a_profile(tags={"value_tier": "gold"})) is True
    assert triggers(event, {"tags.value_tier": "gold"}, profile=a_profile(tags={"value_tier": "basic"})) is False


def test_where_reads_numbers_from_the_event():
    low = an_event("billing.balance_low", balance=12.5, threshold=20)
    assert triggers(low, {"balance": {"lte": 20}}) is True
    assert triggers(low, {"balance": {"lte": 10}}) is False


def test_a_where_test_on_an_attribute_the_event_lacks_is_false():
    event = an_event("app.login", platform="ios")  # no `app` attribute
    assert triggers(event, {"app": "mobile-hall"}) is False
    assert triggers(event, {"app": {"ne": "mobile-hall"}}) is True


def test_in_the_audience_bare_keys_are_profile_fields():
    assert holds({"status": "active"}) is True
    assert holds({"consents.sms": False}, profile=a_profile(consents={"sms": False})) is True
    assert holds({"locale": {"startswith": "zh"}}) is True
    assert holds({"channel_preference": {"contains": "email"}},
                 profile=a_profile(channel_preference=["email", "sms"])) is True
    assert holds({"channel_preference": {"contains": "email"}}) is False


def test_the_audience_reads_the_event_through_event_dot():
    assert holds({"event.platform": "ios"}, event=an_event("app.login", platform="ios")) is True
    assert holds({"event.platform": "ios"}, event=an_event("app.login", platform="android")) is False


def test_path_sources():
    node, errors = parse({"status": "active", "tags.plan": "x", "event.platform": "ios"}, "audience")
    assert errors == []
    assert {(p.path.source, p.path.key) for p in node.parts} == {(FIELD, "status"), (TAG, "plan"), (EVENT, "platform")}
    node, errors = parse({"status": "active"}, "trigger.where", Scope(EVENT))
    assert errors == [] and (node.path.source, node.path.key) == (EVENT, "status")


def test_an_unknown_profile_path_is_an_error():
    assert errors_of({"value_tier": "gold"}) == [
        "audience.value_tier: unknown path 'value_tier' (use a profile field, tags.NAME or event.NAME)"
    ]
    assert errors_of({"consents.fax": True}) == [
        "audience.consents.fax: unknown path 'consents.fax' (use a profile field, tags.NAME or event.NAME)"
    ]


def test_an_unknown_event_attribute_is_an_error_when_the_catalog_knows_the_type():
    known = Scope(EVENT, frozenset({"app", "platform"}))
    assert errors_of({"gate": "A1"}, "trigger.where", known) == [
        "trigger.where.gate: unknown event attribute 'gate' (this event type has: app, platform)"
    ]
    assert errors_of({"event.gate": "A1"}, "audience", Scope(FIELD, frozenset({"app", "platform"}))) == [
        "audience.event.gate: unknown event attribute 'gate' (this event type has: app, platform)"
    ]
    assert errors_of({"gate": "A1"}, "trigger.where", Scope(EVENT, frozenset())) == [
        "trigger.where.gate: unknown event attribute 'gate' (this event type has: none)"
    ]


def test_any_event_attribute_is_accepted_when_the_type_is_unknown():
    assert errors_of({"gate": "A1"}, "trigger.where", Scope(EVENT, None)) == []


def test_tags_and_event_prefixes_need_a_name():
    assert errors_of({"tags.": 1, "event.": 2}) == [
        "audience.tags.: 'tags.' needs a tag name",
        "audience.event.: 'event.' needs an attribute name",
    ]


# ---------------------------------------------------------------- located parse errors

@pytest.mark.parametrize(
    ("test", "error"),
    [
        ({"gtee": 3}, "audience.tags.x: unknown operator 'gtee' (operators: eq, ne, in, nin, gt, gte, lt, lte, between, exists, contains, startswith, within)"),
        ({}, "audience.tags.x: empty operator map"),
        (["gold", "silver"], "audience.tags.x: a list is not a value: write {in: [...]} to match any of them"),
        ({"eq": ["gold"]}, "audience.tags.x.eq: 'eq' takes a single value, got list"),
        ({"ne": {"a": 1}}, "audience.tags.x.ne: 'ne' takes a single value, got dict"),
        ({"in": "gold"}, "audience.tags.x.in: 'in' takes a non-empty list of values"),
        ({"in": []}, "audience.tags.x.in: 'in' takes a non-empty list of values"),
        ({"nin": [["a"]]}, "audience.tags.x.nin: 'nin' takes a non-empty list of values"),
        ({"gt": True}, "audience.tags.x.gt: 'gt' takes a number or a string, got True"),
        ({"lte": [1]}, "audience.tags.x.lte: 'lte' takes a number or a string, got [1]"),
        ({"between": [1]}, "audience.tags.x.between: 'between' takes [low, high], two numbers or two strings"),
        ({"between": [1, "9"]}, "audience.tags.x.between: 'between' takes [low, high], two numbers or two strings"),
        ({"between": [True, 2]}, "audience.tags.x.between: 'between' takes [low, high], two numbers or two strings"),
        ({"between": [9, 1]}, "audience.tags.x.between: 'between' low 9 is above high 1"),
        ({"exists": "yes"}, "audience.tags.x.exists: 'exists' takes true or false"),
        ({"startswith": 4}, "audience.tags.x.startswith: 'startswith' takes a string"),
        ({"contains": ["a"]}, "audience.tags.x.contains: 'contains' takes a single value, got list"),
        ({"within": "30 days"}, "audience.tags.x.within: malformed duration '30 days' (write a number and a unit: 30s, 5m, 2h, 7d, 2w)"),
    ],
)
def test_a_bad_test_is_refused_with_its_location(test, error):
    assert errors_of({"tags.x": test}) == [error]


@pytest.mark.parametrize(
    ("condition", "error"),
    [
        ({"any": []}, "audience.any: 'any' takes a non-empty list of conditions"),
        ({"all": {"tags.x": 1}}, "audience.all: 'all' takes a non-empty list of conditions"),
        ({"any": ["tags.x"]}, "audience.any[0]: expected a map of conditions, got str"),
        ({"not": ["tags.x"]}, "audience.not: expected a map of conditions, got list"),
        (["status"], "audience: expected a map of conditions, got list"),
    ],
)
def test_a_bad_combinator_is_refused_with_its_location(condition, error):
    assert errors_of(condition) == [error]


def test_every_error_is_reported_with_its_nested_location():
    condition = {
        "value_tier": "gold",
        "any": [
            {"tags.value_tier": {"in": ["gold"]}},
            {"tags.intl_calls_90d": {"gtee": 3}},
            {"not": {"tags.last_complaint_at": {"within": "a month"}}},
        ],
        "all": [{"tags.arpu": {"between": [300, 100]}, "tags.plan": {"startswith": 5}}],
    }
    errors = errors_of(condition)
    assert [e.split(":")[0] for e in errors] == [
        "audience.value_tier",
        "audience.any[1].tags.intl_calls_90d",
        "audience.any[2].not.tags.last_complaint_at.within",
        "audience.all[0].tags.arpu.between",
        "audience.all[0].tags.plan.startswith",
    ]
    assert "audience.any[1].tags.intl_calls_90d: unknown operator 'gtee'" in errors[1]


scalars = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8)
keys = st.sampled_from(["any", "all", "not", "status", "tags.x", "event.y", "nope", "tags.", "eq", "in", "between", "within"]) | st.text(max_size=6)
data = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4), max_leaves=25)


@given(data)
def test_parsing_never_raises_it_returns_errors(condition):
    node, errors = parse(condition, "audience")
    assert node is not None
    assert all(e.where.startswith("audience") and e.message for e in errors)
