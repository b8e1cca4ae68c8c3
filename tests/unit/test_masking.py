"""Log lines never carry an MSISDN or an email address in clear (SPEC: privacy of subscribers)."""
import io
import json
import uuid

from aws_lambda_powertools import Logger

from marketing.app.masking import MaskingFormatter, mask


def a_logger(stream: io.StringIO) -> Logger:
    # a service name of its own: Powertools shares one logging.Logger per service name
    return Logger(service=f"deliver-{uuid.uuid4().hex[:8]}", logger_formatter=MaskingFormatter(), stream=stream,
                  level="INFO")


def test_a_log_line_about_a_contact_masks_the_number_and_the_address():
    stream = io.StringIO()
    logger = a_logger(stream)
    logger.info("sms sent to +8613800000080", extra={"email": "li.lei@example.com", "customer_id": "8613800000080",
                                                      "event_id": "evt-000123"})
    line = stream.getvalue()
    assert "8613800000080" not in line
    assert "li.lei@example.com" not in line
    record = json.loads(line)
    assert record["message"] == "sms sent to ***80"
    assert record["email"] == "l***@example.com"
    assert record["event_id"] == "evt-000123"  # identifiers that are not contact data stay readable


def test_an_exception_text_is_masked_too():
    stream = io.StringIO()
    logger = a_logger(stream)
    try:
        raise ValueError("InvalidParameter: +8613811112222 is not a valid phone number")
    except ValueError:
        logger.exception("provider refused")
    assert "8613811112222" not in stream.getvalue()


def test_short_numbers_and_amounts_are_left_alone():
    assert mask("latency 12.5 ms, 3 records, offer value 30") == "latency 12.5 ms, 3 records, offer value 30"


# ---------------------------------------------------------------- numbers and addresses as people write them

import logging  # noqa: E402
import re  # noqa: E402

from hypothesis import given, strategies as st  # noqa: E402

from marketing.app.lambda_handler import batch_handler  # noqa: E402


@st.composite
def written_numbers(draw) -> tuple[str, str]:
    """(the number as written, its digits): a country code and a national number grouped as people do."""
    country = draw(st.sampled_from(["86", "852", "1", "44", "971"]))
    national = draw(st.from_regex(r"[1-9]\d{7,10}", fullmatch=True))
    separator = draw(st.sampled_from(["", " ", "-", "."]))
    cuts = sorted(draw(st.sets(st.integers(3, len(national) - 3), max_size=3)))
    groups, start = [], 0
    for cut in cuts:
        if cut - start >= 3:
            groups.append(national[start:cut])
            start = cut
    groups.append(national[start:])
    body = separator.join(groups) if separator else national
    prefix = draw(st.sampled_from(["+", "00", "+"]))
    between = draw(st.sampled_from(["", " ", "-"])) if separator else ""
    return f"{prefix}{country}{between}{body}", country + national


@given(written_numbers(), st.sampled_from(["sms to {} failed", "{}", "msisdn={};", "(tel: {})", "“{}”"]))
def test_a_number_however_written_keeps_only_its_last_two_digits(number, frame):
    written, digits = number
    masked = mask(frame.format(written))
    remaining = "".join(re.findall(r"\d", masked))
    assert remaining == digits[-2:], (written, masked)


@given(st.from_regex(r"1[3-9]\d{9}", fullmatch=True), st.sampled_from(["{}", "{} {} {}", "{}-{}-{}"]))
def test_a_national_mobile_number_written_in_groups_is_masked(number, layout):
    written = layout.format(number[:3], number[3:7], number[7:]) if "{} " in layout or "-" in layout else number
    assert "".join(re.findall(r"\d", mask(f"call {written} now"))) == number[-2:]


_LETTERS = st.characters(categories=("Ll", "Lu", "Lo"), exclude_characters="_")


@given(st.text(_LETTERS, min_size=1, max_size=6), st.text(_LETTERS | st.sampled_from("0123456789.+-"), max_size=10),
       st.text(_LETTERS, min_size=1, max_size=8), st.sampled_from(["com", "中国", "рф", "org", "みんな"]))
def test_an_address_in_any_script_keeps_only_its_first_letter_and_its_domain(first, rest, label, tld):
    local = first + rest.strip(".+-")
    address = f"{local}@{label}.{tld}"
    masked = mask(f"mail to {address}, bounced")
    assert address not in masked
    assert f"{local[0]}***@{label}.{tld}" in masked, (address, masked)


def test_dates_times_amounts_and_ids_stay_readable():
    text = ("at 2026-12-07T11:49:46Z, 2026-12-07 11:49:46, 12.5 ms, ¥30.00, event evt-000123, "
            "batch 49654377283746598475639847563, request 3f2a1234567890ab, 200 records")
    assert mask(text) == text


# ---------------------------------------------------------------- every logger of a function masks

_CONTACT = "+86 138 0000 0001 and li.na@example.com"


def _assert_no_contact(text: str) -> None:
    assert "0000 0001" not in text and "li.na@" not in text and text.count("***") >= 1, text


def test_the_product_and_the_runtime_loggers_mask_once_a_handler_is_built(monkeypatch):
    runtime_stream = io.StringIO()
    runtime_handler = logging.StreamHandler(runtime_stream)   # what the Lambda runtime puts on the root logger
    logging.getLogger().addHandler(runtime_handler)
    try:
        batch_handler(lambda _settings: None, lambda _use_case, _records: None)
        product_stream = _captured("marketing")
        logging.getLogger("marketing").error("campaign for %s is invalid", _CONTACT)
        logging.getLogger("botocore.test").error("provider said %s", _CONTACT)
    finally:
        logging.getLogger().removeHandler(runtime_handler)
    _assert_no_contact(product_stream.getvalue())
    _assert_no_contact(runtime_stream.getvalue())
    assert "provider said" in runtime_stream.getvalue()


def _captured(*names: str) -> io.StringIO:
    stream = io.StringIO()
    for name in names:
        for handler in logging.getLogger(name).handlers:
            handler.setStream(stream)
    return stream


def test_an_exception_escaping_the_handler_is_logged_and_reraised_masked():
    class ProviderError(Exception):
        pass

    class Crashing:
        def batch(self, _messages):
            raise ProviderError(f"publish to {_CONTACT} refused")

    from marketing.app import edge
    handler = batch_handler(lambda _settings: Crashing(), edge.customer_events)
    logs = _captured("service_undefined", "marketing")   # the function's Powertools logger and the product's
    try:
        handler({"Records": []}, _Context())
    except Exception as error:  # noqa: BLE001 - what the Lambda runtime would print and return
        escaped = error
    else:
        raise AssertionError("the handler swallowed the error")
    assert type(escaped).__name__ == "ProviderError"           # a state machine's Catch still matches it
    _assert_no_contact(str(escaped))
    _assert_no_contact(logs.getvalue())
    assert "invocation failed: ProviderError" in logs.getvalue()
    assert "Traceback" in logs.getvalue()


class _Context:
    function_name, memory_limit_in_mb, invoked_function_arn, aws_request_id = "enrich", 512, "arn:x", "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000
