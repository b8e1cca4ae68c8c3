"""The event catalog (SPEC 4.1): the shipped types and families, and what `parse` lets through."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketing.domain.catalog import EventCatalog, Rejected
from marketing.domain.models import CustomerEvent, DeadLetterReason
from tests.unit.factories import CATALOG, NOW, an_event_record, iso

# (family, a seed type SPEC 4.1 names for it)
SEED_TYPES = [
    ("voice_call", "call.completed"),
    ("location", "location.enter_area"),
    ("non_voice", "sms.inbound_reply"),
    ("non_voice", "device.power_on"),
    ("non_voice", "device.power_off"),
    ("special_call", "call.international"),
    ("special_call", "call.competitor_hotline"),
    ("service_activity", "data.usage_threshold"),
    ("service_activity", "service.activated"),
    ("billing", "billing.balance_low"),
    ("billing", "billing.recharge"),
    ("billing", "billing.charge"),
    ("order", "order.completed"),
    ("order", "order.cancelled"),
    ("care", "care.complaint"),
    ("care", "care.enquiry"),
    ("digital", "app.login"),
    ("digital", "web.page_view"),
    ("store", "store.visit"),
    ("lifecycle", "contract.expiring"),
    ("lifecycle", "lifecycle.new_subscriber"),
]


def rejection(raw, now=NOW) -> Rejected:
    with pytest.raises(Rejected) as raised:
        CATALOG.parse(raw, now)
    return raised.value


# ---------------------------------------------------------------- the shipped catalog

def test_the_shipped_catalog_has_at_least_forty_types():
    assert len(CATALOG.types) >= 40


def test_the_shipped_catalog_covers_every_scenario_family():
    assert set(CATALOG.families) >= {
        "voice_call", "special_call", "location", "non_voice", "service_activity",
        "billing", "order", "care", "digital", "store", "lifecycle",
    }


@pytest.mark.parametrize(("family", "event_type"), SEED_TYPES)
def test_each_seed_scenario_has_its_event_type(family, event_type):
    assert event_type in CATALOG
    assert CATALOG.types[event_type].family == family


def test_every_type_says_what_it_is_and_where_it_comes_from():
    undocumented = [t.name for t in CATALOG.types.values() if not t.description or not t.source]
    assert undocumented == []


def test_the_shipped_defaults():
    assert CATALOG.max_age == timedelta(hours=24)
    assert CATALOG.max_clock_skew == timedelta(minutes=5)


def test_the_location_seed_carries_its_area():
    area = CATALOG.types["location.enter_area"].attributes["area_id"]
    assert (area.type, area.required) == ("string", True)


def test_a_catalog_with_an_unknown_attribute_type_is_refused_with_the_location():
    with pytest.raises(ValueError, match=r"types\.x\.ping\.attributes\.rtt: unknown type 'duration'"):
        EventCatalog.from_dict({"types": {"x.ping": {"attributes": {"rtt": {"type": "duration"}}}}})


def test_an_operator_adds_a_type_by_data_alone():
    catalog = EventCatalog.from_dict({
        "defaults": {"max_age": "1h"},
        "types": {"wifi.hotspot_joined": {"attributes": {"ssid": {"type": "string", "required": True}, "band": "string"}}},
    })
    assert catalog.families == ("wifi",)  # family defaults to the name's prefix
    assert catalog.max_age == timedelta(hours=1)
    event = catalog.parse(an_event_record("wifi.hotspot_joined", ssid="Airport-Free"), NOW)
    assert event.attributes == {"ssid": "Airport-Free"}


# ---------------------------------------------------------------- parse: what passes

def test_a_valid_event_passes_with_its_values():
    event = CATALOG.parse(an_event_record("location.enter_area", area_id="PEK_T3_INTL_DEPARTURE",
                                          cell_id="460-00-1234-5678"), NOW)
    assert isinstance(event, CustomerEvent)
    assert (event.event_id, event.event_type, event.customer_id) == ("evt-000123", "location.enter_area", "8613800000001")
    assert event.occurred_at == NOW - timedelta(seconds=30)
    assert event.attributes == {"area_id": "PEK_T3_INTL_DEPARTURE", "cell_id": "460-00-1234-5678"}


def test_lists_are_frozen_to_tuples_and_nulls_dropped():
    event = CATALOG.parse(an_event_record("lifecycle.churn_risk_raised", score=0.72, previous_score=None,
                                          top_factors=["price", "network"]), NOW)
    assert event.attributes == {"score": 0.72, "top_factors": ("price", "network")}
    hash(tuple(event.attributes.values()))  # the matcher needs hashable values


@pytest.mark.parametrize("encode", [lambda r: r, json.dumps, lambda r: json.dumps(r, ensure_ascii=False).encode()])
def test_a_record_may_arrive_as_a_dict_text_or_bytes(encode):
    record = an_event_record("call.international", country="JP", duration_s=300, via_ip_prefix=False)
    assert CATALOG.parse(encode(record), NOW).attributes == {"country": "JP", "duration_s": 300, "via_ip_prefix": False}


def test_optional_attributes_may_be_absent_and_unlisted_ones_pass_through():
    event = CATALOG.parse(an_event_record("app.login", campaign_ref="spring"), NOW)
    assert event.attributes == {"campaign_ref": "spring"}


@pytest.mark.parametrize("age", [timedelta(0), timedelta(hours=23, minutes=59), -timedelta(minutes=4, seconds=59)])
def test_events_inside_the_clock_window_pass(age):
    assert CATALOG.parse(an_event_record(occurred_at=NOW - age), NOW).event_id == "evt-000123"


# ---------------------------------------------------------------- parse: what is dead-lettered

@pytest.mark.parametrize("raw", [b"not json", "{'single': 'quotes'}", b"\xff\xfe\x00garbage", "", b'{"event_id": '])
def test_not_json(raw):
    assert rejection(raw).reason is DeadLetterReason.NOT_JSON


@pytest.mark.parametrize("raw", ["[1, 2]", '"evt"', "42", "null"])
def test_json_that_is_not_an_object(raw):
    rejected = rejection(raw)
    assert rejected.reason is DeadLetterReason.NOT_JSON
    assert "not an object" in rejected.message


def test_missing_fields_are_named():
    record = an_event_record()
    del record["customer_id"], record["occurred_at"]
    rejected = rejection(record)
    assert rejected.reason is DeadLetterReason.MISSING_FIELD
    assert rejected.message == "missing customer_id, occurred_at"


@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("occurred_at", "2026-12-01T12:00:00", "occurred_at"),    # no timezone
        ("occurred_at", "yesterday", "occurred_at"),
        ("event_id", "", "event_id"),
        ("customer_id", 8613800000001, "customer_id"),
        ("attributes", ["area_id"], "attributes"),
        ("event_type", None, "event_type"),
    ],
)
def test_invalid_fields_are_located(field, value, where):
    record = an_event_record()
    record[field] = value
    rejected = rejection(record)
    assert rejected.reason is DeadLetterReason.INVALID_FIELD
    assert rejected.message.startswith(f"{where}:")


def test_an_unknown_event_type():
    rejected = rejection(an_event_record("location.enter_airport", area_id="PEK_T3"))
    assert rejected.reason is DeadLetterReason.UNKNOWN_EVENT_TYPE
    assert rejected.message == "event_type 'location.enter_airport' is not in the catalog"


@pytest.mark.parametrize(
    ("event_type", "attributes", "message"),
    [
        ("location.enter_area", {}, "attributes.area_id: required by location.enter_area"),
        ("location.enter_area", {"area_id": None}, "attributes.area_id: required by location.enter_area"),
        ("location.enter_area", {"area_id": 3}, "attributes.area_id: expected string, got int 3"),
        ("call.international", {"country": "JP", "duration_s": "300"}, "attributes.duration_s: expected integer, got str '300'"),
        ("call.international", {"country": "JP", "duration_s": True}, "attributes.duration_s: expected integer, got bool True"),
        ("call.international", {"country": "JP", "via_ip_prefix": 1}, "attributes.via_ip_prefix: expected boolean, got int 1"),
        ("billing.balance_low", {"balance": False}, "attributes.balance: expected number, got bool False"),
        ("call.no_outgoing", {"days": 3, "last_call_at": "2026-11-28T10:00:00"},
         "attributes.last_call_at: expected timestamp, got str '2026-11-28T10:00:00'"),
        ("lifecycle.churn_risk_raised", {"score": 0.7, "top_factors": ["price", 3]},
         "attributes.top_factors: expected string_list, got list ['price', 3]"),
    ],
)
def test_wrong_attributes_are_refused_with_what_was_expected(event_type, attributes, message):
    rejected = rejection(an_event_record(event_type, **attributes))
    assert rejected.reason is DeadLetterReason.INVALID_ATTRIBUTE
    assert rejected.message == message


def test_every_attribute_problem_is_reported_at_once():
    rejected = rejection(an_event_record("call.international", duration_s="long", via_ip_prefix="no"))
    assert rejected.message.split("; ") == [
        "attributes.country: required by call.international",
        "attributes.duration_s: expected integer, got str 'long'",
        "attributes.via_ip_prefix: expected boolean, got str 'no'",
    ]


def test_an_event_from_the_future_beyond_the_clock_skew():
    rejected = rejection(an_event_record(occurred_at=NOW + timedelta(minutes=6)))
    assert rejected.reason is DeadLetterReason.IN_FUTURE
    assert rejected.message == f"occurred_at {iso(NOW + timedelta(minutes=6))} is in the future"


def test_an_event_too_old_to_act_on():
    rejected = rejection(an_event_record(occurred_at=NOW - timedelta(hours=24, seconds=1)))
    assert rejected.reason is DeadLetterReason.TOO_OLD


def test_the_clock_is_compared_across_timezones():
    utc_record = an_event_record()
    utc_record["occurred_at"] = "2026-12-01T04:10:00Z"  # 12:10 in Beijing: 10 minutes ahead of NOW
    assert rejection(utc_record).reason is DeadLetterReason.IN_FUTURE


def test_a_deeply_nested_record_is_dead_lettered_not_a_crash():
    # BUG (catalog.py _decode): json.loads raises RecursionError on deep nesting, which escapes
    # `parse` (it must raise only Rejected). A 100 kB record fits in Kinesis; enrich then fails
    # its whole batch (see test_use_cases) and the shard stops.
    assert rejection("[" * 100_000).reason is DeadLetterReason.NOT_JSON


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=10,
)
timestamps = st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()) | st.sampled_from(
    [iso(NOW), iso(NOW - timedelta(hours=1)), "2026-12-01T12:00:00", "9999-12-31T23:59:59+14:00"])
fields = st.fixed_dictionaries(
    {},
    optional={
        "event_id": st.text(max_size=3) | json_values,
        "event_type": st.sampled_from(sorted(CATALOG.types)) | json_values,
        "customer_id": st.just("8613800000001") | json_values,
        "occurred_at": timestamps | json_values,
        "attributes": st.dictionaries(st.sampled_from(["area_id", "balance", "days", "top_factors", "country", "x"]),
                                      json_values, max_size=4) | json_values,
        "source": json_values,
    },
)


@given(fields)
def test_parse_returns_an_event_or_a_dead_letter_reason_never_anything_else(record):
    try:
        event = CATALOG.parse(record, NOW)
    except Rejected as rejected:
        assert rejected.reason in DeadLetterReason and rejected.message
    else:
        assert event.event_type in CATALOG
        assert all(not isinstance(v, list) for v in event.attributes.values())


@given(st.binary(max_size=64) | st.text(max_size=64))
def test_parse_of_arbitrary_bytes_never_raises_anything_but_rejected(raw):
    try:
        CATALOG.parse(raw, NOW)
    except Rejected:
        pass
