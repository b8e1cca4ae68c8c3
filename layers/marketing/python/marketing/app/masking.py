"""Log masking: MSISDNs and email addresses never reach the logs in clear.

The Powertools formatter serialises each record to JSON; this one masks the result, so whatever a
log call carries (message, extra keys, an exception's text) is covered. Keeps the last two digits
of a number and the domain of an address, enough to tell records apart, not to contact anyone.
"""
from __future__ import annotations

import re
from logging import LogRecord

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
_MSISDN = re.compile(r"(?<![\w.])\+?\d{7,13}(\d{2})(?!\w)")


def mask(text: str) -> str:
    text = _EMAIL.sub(r"\1***@\2", text)
    return _MSISDN.sub(r"***\1", text)


class MaskingFormatter(LambdaPowertoolsFormatter):
    def serialize(self, log: LogRecord | dict) -> str:  # type: ignore[override]
        return mask(super().serialize(log))
