"""What a customer receives on each outbound channel, rendered from the campaign's templates.

SMS and push stay plain text. Email is rendered with Jinja2 (sandboxed; autoescape on for HTML, so a
profile value can never inject markup) into a text and an HTML body, both carrying the unsubscribe
link. Never sends anything and never reads the clock or the environment.

Placeholders: SPEC 4.3's `{name}` form keeps working everywhere. A template that contains Jinja2
syntax (`{{ … }}` or `{% … %}`) is taken as Jinja2 as it is; otherwise every `{field}` is read as
`{{ field }}`. A field without a value is a `MissingField` for that message, as with SMS.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Mapping

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from marketing.domain.campaigns import EmailTemplate, PushTemplate, SmsTemplate
from marketing.domain.templates import MissingField, render

_LEGACY = re.compile(r"(?<!\{)\{(\w+)\}(?!\})")


def jinja_source(template: str) -> str:
    """A SPEC 4.3 `{field}` template as Jinja2 source; a template already in Jinja2 is kept."""
    if "{{" in template or "{%" in template:
        return template
    return _LEGACY.sub(r"{{ \1 }}", template)


class _Missing(StrictUndefined):
    """An undefined field names itself, as the plain renderer's MissingField does."""

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any):  # type: ignore[override]
        raise MissingField(self._undefined_name or "?")

    __str__ = __iter__ = __len__ = __bool__ = _fail_with_undefined_error  # type: ignore[assignment]


_HTML = SandboxedEnvironment(autoescape=True, undefined=_Missing, keep_trailing_newline=True)
_TEXT = SandboxedEnvironment(autoescape=False, undefined=_Missing, keep_trailing_newline=True)

_HTML_LAYOUT = _HTML.from_string(
    """<!DOCTYPE html>
<html lang="{{ locale }}"><head><meta charset="utf-8"><title>{{ subject }}</title></head>
<body>
{{ body }}
<hr>
<p style="font-size:12px;color:#777">{{ footer }} <a href="{{ unsubscribe_url }}">{{ unsubscribe_label }}</a></p>
</body></html>
""")
_TEXT_LAYOUT = _TEXT.from_string("{{ body }}\n\n--\n{{ footer }}\n{{ unsubscribe_label }}: {{ unsubscribe_url }}\n")
_PARAGRAPHS = _HTML.from_string("{% for p in paragraphs %}<p>{{ p }}</p>\n{% endfor %}")

FOOTER = "您收到这封邮件是因为您同意接收营销信息。 / You receive this because you agreed to marketing messages."
UNSUBSCRIBE_LABEL = "退订 / Unsubscribe"


def _filled(values: Mapping[str, Any]) -> dict[str, Any]:
    # an empty value is as missing as an absent one (what the SMS renderer says too)
    return {k: v for k, v in values.items() if v is not None and v != ""}


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str
    headers: dict[str, str]


def email(template: EmailTemplate, values: Mapping[str, Any], unsubscribe_url: str,
          unsubscribe_mailto: str | None = None) -> Email:
    """Subject, text and HTML bodies (both with the unsubscribe link) and the List-Unsubscribe headers
    (RFC 2369 / RFC 8058 one-click) that mail clients show as an unsubscribe button."""
    filled = _filled(values)
    subject = _TEXT.from_string(jinja_source(template.subject)).render(filled).strip()
    text = _TEXT.from_string(jinja_source(template.text)).render(filled)
    if template.html:
        body = Markup(_HTML.from_string(jinja_source(template.html)).render(filled))
    else:
        body = Markup(_PARAGRAPHS.render(paragraphs=[p for p in text.split("\n") if p.strip()]))
    common = {"subject": subject, "unsubscribe_url": unsubscribe_url, "footer": FOOTER,
              "unsubscribe_label": UNSUBSCRIBE_LABEL, "locale": filled.get("locale", "zh-CN")}
    targets = [f"<{unsubscribe_url}>"] + ([f"<mailto:{unsubscribe_mailto}>"] if unsubscribe_mailto else [])
    return Email(
        subject=subject,
        text=_TEXT_LAYOUT.render(body=text.rstrip(), **common),
        html=_HTML_LAYOUT.render(body=body, **common),
        headers={"List-Unsubscribe": ", ".join(targets), "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )


def sms_text(template: SmsTemplate, values: Mapping[str, Any]) -> str:
    return render(template.text, values)


@dataclass(frozen=True)
class Push:
    title: str
    body: str
    data: dict[str, str]

    def sns_message(self) -> str:
        """The SNS `MessageStructure=json` document: one payload per push platform."""
        fcm = {"notification": {"title": self.title, "body": self.body}, "data": self.data}
        apns = {"aps": {"alert": {"title": self.title, "body": self.body}}, **self.data}
        return json.dumps({"default": self.body, "GCM": json.dumps(fcm, ensure_ascii=False),
                           "APNS": json.dumps(apns, ensure_ascii=False),
                           "APNS_SANDBOX": json.dumps(apns, ensure_ascii=False)}, ensure_ascii=False)


def push(template: PushTemplate, values: Mapping[str, Any], data: Mapping[str, str]) -> Push:
    return Push(render(template.title, values), render(template.body, values), dict(data))
