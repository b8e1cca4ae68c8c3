"""Message templates: `{field}` placeholders filled from the profile and the offer."""
from __future__ import annotations

import pytest

from marketing.domain.templates import MissingField, placeholders, render


def test_placeholders_are_filled_from_the_values():
    text = render("{name}您好，7天出境漫游包{offer_value}元，回复{reply_code}立即开通。",
                  {"name": "李雷", "offer_value": "30", "reply_code": "Y7"})
    assert text == "李雷您好，7天出境漫游包30元，回复Y7立即开通。"


def test_a_template_without_placeholders_is_unchanged():
    assert render("您的话费余额不足，请及时充值", {}) == "您的话费余额不足，请及时充值"


def test_values_are_shown_as_text_and_zero_is_a_value():
    assert render("{points} points, {value} yuan", {"points": 0, "value": 12.5}) == "0 points, 12.5 yuan"


def test_a_placeholder_may_repeat():
    assert render("{name}, {name}!", {"name": "Ann"}) == "Ann, Ann!"


@pytest.mark.parametrize("values", [{}, {"name": None}, {"name": ""}])
def test_a_missing_or_empty_value_is_a_missing_field_naming_it(values):
    with pytest.raises(MissingField) as raised:
        render("{name}您好", values)
    assert raised.value.field == "name"
    assert str(raised.value) == "template placeholder {name} has no value for this customer"


def test_missing_field_is_a_value_error():
    assert issubclass(MissingField, ValueError)


def test_attribute_and_index_access_are_not_placeholders():
    # a template can never reach into objects: these are left as written, not evaluated
    assert render("{name.__class__} {name[0]}", {"name": "Ann"}) == "{name.__class__} {name[0]}"


def test_other_braces_are_left_alone():
    assert render('{"json": true} {name}', {"name": "Ann"}) == '{"json": true} Ann'


def test_placeholders_lists_the_fields_a_template_needs():
    assert placeholders("{name}您好，{offer_value}元 {name}") == ["name", "offer_value", "name"]
