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
