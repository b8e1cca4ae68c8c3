"""Small factories for unit-test scenario data: `a_definition`, `a_campaign`, `a_profile`, `an_event`.

Every factory returns a valid value by default; a test overrides only what it is about.
"""
from __future__ import annotations

import base64
import copy
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from marketing.domain.campaigns import Campaign, load_campaign
from marketing.domain.catalog import EventCatalog
from marketing.domain.models import Consents, CustomerEvent, Profile

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
CATALOG = EventCatalog.from_file(EVENTS / "catalog.yaml")

BEIJING = timezone(timedelta(hours=8))
NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=BEIJING)


def iso(at: datetime) -> str:
    return at.isoformat()


def a_definition(**overrides: Any) -> dict[str, Any]:
    """A valid campaign definition (raw data, as read from YAML) triggered by app.login."""
    definition: dict[str, Any] = {
        "id": "app-login-offer",
        "name": "In-app member offer",
        "priority": 50,
        "schedule": {"start": "2026-11-01T00:00:00+08:00", "end": "2027-12-31T23:59:59+08:00"},
        "trigger": {"event": "app.login", "max_event_age": "5m"},
        "audience": {},
        "offer": {"code": "APP_VIP_10G", "reply_code": "A1", "value": 10.0},
        "channels": [
            {"sms": {"text": "{name}您好，会员流量券价值{offer_value}元，回复A1领取。"}},
            {"app_push": {"title": "会员专享", "body": "流量券已到账"}},
            {"email": {"subject": "会员专享", "text": "{name}您好"}},
        ],
        "limits": {"per_customer": 1, "cooldown": "30d"},
        "control_group": "0%",  # no holdout unless a test asks for one: outcomes never hinge on hashing
    }
    for key, value in overrides.items():
        if value is None:
            definition.pop(key, None)
        else:
            definition[key] = copy.deepcopy(value)
    return definition


def a_campaign(**overrides: Any) -> Campaign:
    load = load_campaign(a_definition(**overrides), CATALOG)
    assert load.ok, [str(e) for e in load.errors]
    return load.campaign


def a_profile(customer_id: str = "8613800000001", tags: dict[str, Any] | None = None, **overrides: Any) -> Profile:
    """An active, reachable customer who consents to everything but do-not-disturb."""
    data: dict[str, Any] = {
        "customer_id": customer_id,
        "status": "active",
        "name": "李雷",
        "msisdn": "+8613800000001",
        "email": "li.lei@example.com",
        "timezone": "Asia/Shanghai",
        "tags": tags or {},
        "consents": {"marketing": True, "sms": True, "email": True, "app_push": True, "dnd": False},
        "channel_preference": [],
        "push_endpoint": "arn:aws:sns:us-east-1:123456789012:endpoint/GCM/marketing-app/8613800000001",
    }
    consents = overrides.pop("consents", None)
    if consents:
        data["consents"] = {**data["consents"], **consents}
    data.update(overrides)
    return Profile.model_validate(data)


def an_event_record(event_type: str = "app.login", *, event_id: str = "evt-000123",
                    customer_id: str = "8613800000001", occurred_at: datetime | None = None,
                    **attributes: Any) -> dict[str, Any]:
    """The raw JSON object upstream publishes (SPEC 4.1)."""
    return {
        "event_id": event_id,
        "event_type": event_type,
        "customer_id": customer_id,
        "occurred_at": iso(occurred_at or NOW - timedelta(seconds=30)),
        "source": "test",
        "touchpoint": "network",
        "attributes": attributes,
    }


def an_event(event_type: str = "app.login", *, now: datetime = NOW, **kwargs: Any) -> CustomerEvent:
    """A catalog-validated event (attributes frozen, as enrich produces them)."""
    return CATALOG.parse(an_event_record(event_type, **kwargs), now)


def consents(**values: bool) -> Consents:
    return Consents(**{"marketing": True, "sms": True, "email": True, "app_push": True, "dnd": False, **values})


# ---------------------------------------------------------------- Lambda-shaped trigger records

def a_kinesis_record(data: bytes, sequence_number: str, partition_key: str = "8613800000001") -> dict[str, Any]:
    """One record of a Kinesis-triggered Lambda event, as the event-source mapping delivers it."""
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": partition_key,
            "sequenceNumber": sequence_number,
            "data": base64.b64encode(data).decode(),
            "approximateArrivalTimestamp": NOW.timestamp(),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"shardId-000000000000:{sequence_number}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/marketing-test",
        "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/marketing-test",
    }


def an_sqs_record(body: dict[str, Any], message_id: str) -> dict[str, Any]:
    """One record of an SQS-triggered Lambda event."""
    text = json.dumps(body, ensure_ascii=False)
    return {
        "messageId": message_id,
        "receiptHandle": f"receipt-{message_id}",
        "body": text,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1764561600000"},
        "messageAttributes": {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:marketing-test",
        "awsRegion": "us-east-1",
    }
