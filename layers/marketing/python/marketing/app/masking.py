"""Log masking: MSISDNs and email addresses never reach the logs in clear.

Every log line of a function goes through `MaskingFormatter`: the Powertools logger's and the
standard library's (`logging.getLogger("marketing")`, the root logger the Lambda runtime prints
through), and an exception that escapes the handler is re-raised with its text masked, so the
runtime's own error report carries no contact data either (`masked_errors`).

Keeps the last two digits of a number and the domain of an address, enough to tell records apart,
not to contact anyone. Numbers are recognised written as people and providers write them: E.164
(`+8613800000001`), spaced or dashed (`+86 138 0000 0001`, `+86-138-0000-0001`, `138 0000 0001`),
with a national prefix (`0086 …`) — but not dates, times, amounts or ids (`2026-12-07`, `12.5`,
`evt-000123`). Addresses may be internationalised (`张伟@例子.中国`, `josé@exämple.com`).
"""
from __future__ import annotations

import functools
import logging
import re
from logging import LogRecord
from typing import Any, Callable

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

# local part: letters of any script, digits and the usual punctuation; domain: labels of any script
_EMAIL = re.compile(r"([^\W_]|[.%+-])[\w.%+-]*@((?:[^\W_][\w-]*\.)+[^\W\d_]{2,})")
# a number written with '+' or '00' may group its digits any way; one without needs groups of 3+
_MSISDN = re.compile(
    r"(?<![\w.+-])"
    r"(?:(?:\+|00)\d{1,3}(?:[ \-.]?\(?\d{1,5}\)?){2,6}"       # +86 138 0000 0001, 0086-138-0000-0001
    r"|\d{3,4}(?:[ \-]\d{3,4}){2,3}"                          # 138 0000 0001, 138-0000-0001
    r"|\d{9,15})"                                             # 8613800000001
    r"(?![\w-])")
_DIGITS = re.compile(r"\d")


def _masked_number(match: re.Match[str]) -> str:
    digits = _DIGITS.findall(match.group(0))
    if not 8 <= len(digits) <= 17:
        return match.group(0)
    return "***" + "".join(digits[-2:])


def mask(text: str) -> str:
    text = _EMAIL.sub(r"\1***@\2", text)
    return _MSISDN.sub(_masked_number, text)


class MaskingFormatter(LambdaPowertoolsFormatter):
    def serialize(self, log: LogRecord | dict) -> str:  # type: ignore[override]
        return mask(super().serialize(log))


class _MaskingStdlibFormatter(logging.Formatter):
    """For handlers that are not Powertools' (the Lambda runtime's root handler): the whole line masked."""

    def __init__(self, inner: logging.Formatter | None):
        super().__init__()
        self._inner = inner or logging.Formatter()

    def format(self, record: LogRecord) -> str:
        return mask(self._inner.format(record))


def mask_all_loggers(formatter: MaskingFormatter, level: int) -> None:
    """The product's stdlib loggers print through a masking handler, and whatever reaches the root
    logger (the Lambda runtime's handler, third-party libraries) is masked as well; `level` is the
    function's log level (POWERTOOLS_LOG_LEVEL). Idempotent."""
    product = logging.getLogger("marketing")
    if not any(isinstance(h.formatter, MaskingFormatter) for h in product.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(formatter)
        product.addHandler(handler)
        product.propagate = False
    product.setLevel(level)
    for handler in logging.getLogger().handlers:
        if not isinstance(handler.formatter, (MaskingFormatter, _MaskingStdlibFormatter)):
            handler.setFormatter(_MaskingStdlibFormatter(handler.formatter))


def masked_exception(error: BaseException) -> Exception:
    """The same error for whoever reports it (its class name kept: a state machine's Catch matches it),
    with contact data masked out of its text; the original stays the `__cause__` for nobody to print."""
    masked_type = type(error.__class__.__name__, (Exception,), {"__module__": error.__class__.__module__})
    return masked_type(mask(str(error)))


def masked_errors(logger: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A handler whose escaping exception is logged (masked, with its traceback) and re-raised with its
    text masked: the Lambda runtime prints what escapes in clear, and returns it to the caller."""

    def decorate(call: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(call)
        def handler(*args: Any, **kwargs: Any) -> Any:
            try:
                return call(*args, **kwargs)
            except Exception as error:
                logger.exception("invocation failed: %s", type(error).__name__)
                if mask(str(error)) == str(error):
                    raise
                raise masked_exception(error) from None

        return handler

    return decorate
