"""Rendered messages: email (Jinja2, autoescaped HTML, unsubscribe link and headers), SMS, push; signed links."""
from __future__ import annotations

import json

import pytest

from marketing.domain import unsubscribe
from marketing.domain.campaigns import EmailTemplate, PushTemplate, SmsTemplate
from marketing.domain.messages import email, jinja_source, push, sms_text
from marketing.domain.templates import MissingField

URL = "https://offers.example.com/u?t=abc"
VALUES = {"name": "李雷", "offer_value": "30", "offer_code": "ROAM_7D", "locale": "zh-CN"}


def test_spec_placeholders_become_jinja_and_jinja_is_kept():
    assert jinja_source("{name}您好 {offer_value}元") == "{{ name }}您好 {{ offer_value }}元"
    assert jinja_source("{{ name | upper }} {name}") == "{{ name | upper }} {name}"  # already Jinja2: as written
    assert jinja_source("a { color: red } {}") == "a { color: red } {}"


def test_email_has_both_bodies_with_the_offer_and_the_unsubscribe_link():
    mail = email(EmailTemplate(subject="{name}：出境漫游包", text="{name}您好，{offer_value}元",
                               html="<p>{name}您好，<b>{offer_value}元</b></p>"), VALUES, URL, "unsub@example.com")
    assert mail.subject == "李雷：出境漫游包"
    assert "李雷您好，30元" in mail.text and URL in mail.text
    assert "<p>李雷您好，<b>30元</b></p>" in mail.html
    assert 'href="https://offers.example.com/u?t=abc"' in mail.html
    assert mail.headers == {"List-Unsubscribe": f"<{URL}>, <mailto:unsub@example.com>",
                            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def test_profile_values_are_escaped_in_html_but_not_in_text():
    mail = email(EmailTemplate(subject="Hi", text="Hi {name}", html="<p>Hi {name}</p>"),
                 {**VALUES, "name": "<script>x</script>"}, URL)
    assert "<script>" not in mail.html and "&lt;script&gt;x&lt;/script&gt;" in mail.html
    assert "Hi <script>x</script>" in mail.text


def test_without_an_html_template_the_text_becomes_escaped_paragraphs():
    mail = email(EmailTemplate(subject="Hi", text="Line <1>\nLine 2"), VALUES, URL)
    assert "<p>Line &lt;1&gt;</p>" in mail.html and "<p>Line 2</p>" in mail.html


@pytest.mark.parametrize("values", [{}, {"name": None}, {"name": ""}])
def test_a_missing_field_in_an_email_names_it(values):
    with pytest.raises(MissingField) as raised:
        email(EmailTemplate(subject="s", text="{name}您好"), values, URL)
    assert raised.value.field == "name"


def test_jinja_cannot_reach_into_objects():
    from jinja2.exceptions import SecurityError

    with pytest.raises(SecurityError):
        email(EmailTemplate(subject="s", text="{{ name.__class__.__mro__ }}"), VALUES, URL)


def test_sms_and_push_render_plain_text():
    assert sms_text(SmsTemplate(text="{name}您好"), VALUES) == "李雷您好"
    message = push(PushTemplate(title="出境漫游", body="{offer_value}元"), VALUES, {"campaign_id": "c1"})
    document = json.loads(message.sns_message())
    assert document["default"] == "30元"
    assert json.loads(document["GCM"]) == {"notification": {"title": "出境漫游", "body": "30元"}, "data": {"campaign_id": "c1"}}
    assert json.loads(document["APNS"])["aps"]["alert"] == {"title": "出境漫游", "body": "30元"}


def test_unsubscribe_tokens_are_signed_and_name_customer_and_campaign():
    token = unsubscribe.token(b"k1", "8613800000001", "roam")
    assert unsubscribe.read_token(b"k1", token) == ("8613800000001", "roam")
    assert unsubscribe.read_token(b"k2", token) is None                       # another key
    forged = unsubscribe.token(b"k2", "8613800000002", "roam").split(".")[0] + "." + token.split(".")[1]
    assert unsubscribe.read_token(b"k1", forged) is None                      # someone else's customer id
    assert unsubscribe.link("https://x.example/u", token) == f"https://x.example/u?t={token}"
    assert unsubscribe.link("https://x.example/u?lang=zh", token) == f"https://x.example/u?lang=zh&t={token}"
