"""Message templates: `{name}`-style placeholders filled from the profile and the offer.

Only plain `{field}` placeholders are read (no attribute or index access, so a template can never
reach into objects). A placeholder whose value is missing is an error for that message, not a crash.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

_PLACEHOLDER = re.compile(r"\{(\w*)\}")


class MissingField(ValueError):
    def __init__(self, field: str):
        super().__init__(f"template placeholder {{{field}}} has no value for this customer")
        self.field = field


def placeholders(template: str) -> list[str]:
    return _PLACEHOLDER.findall(template)


def render(template: str, values: Mapping[str, Any]) -> str:
    def fill(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        if value is None or value == "":
            raise MissingField(match.group(1))
        return str(value)

    return _PLACEHOLDER.sub(fill, template)
