"""Scenario data and the local world the integration tests run in: moto in-process, every resource
of the stack, the three real handlers behind the local event-source pollers.

Factories build SPEC-shaped data (4.1 events, 4.2 profiles, 4.3 campaigns); `World` publishes and
reads back only what a user would see: SMS captured by SNS, decision records, DLQ messages, rows.
"""
from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3

from marketing.adapters.aws import (
    DynamoCampaignStore,
    DynamoContactLedger,
    DynamoProfileStore,
    KinesisRecordStream,
    S3DecisionLog,
)
from marketing.domain.campaigns import load_campaign, load_campaign_file
from marketing.domain.catalog import EventCatalog
from marketing.domain.models import Profile
from marketing_tools.emulator.runtime import Pipeline
from marketing_tools.emulator.account import ACCOUNT, REGION
from marketing.data import CATALOG, packaged
from marketing_tools.project import project_path
from marketing_tools.emulator.stack import create_stack

CATALOG = EventCatalog.from_file(packaged(CATALOG))
ALWAYS = {"start": "2026-01-01T00:00:00+00:00", "end": "2030-01-01T00:00:00+00:00"}


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


# ------------------------------------------------------------------ factories


def a_profile(customer: str = "8613800000001", *, tier: str | None = "gold", name: str | None = "李雷",
              email: str | None = None, consents: dict[str, bool] | None = None, status: str = "active",
              channel_preference: list[str] | None = None, **tags: Any) -> dict[str, Any]:
    """A reachable, consenting customer; `tags` adds or overrides profile tags."""
    profile: dict[str, Any] = {
        "customer_id": customer, "status": status, "msisdn": f"+{customer}", "timezone": "Asia/Shanghai",
        "tags": {**({"value_tier": tier} if tier else {}), **tags},
        "consents": {"marketing": True, "sms": True, "email": True, "app_push": False, "dnd": False,
                     **(consents or {})},
        "channel_preference": channel_preference or ["sms", "email"],
    }
    if name is not None:
        profile["name"] = name
    if email is not None:
        profile["email"] = email
    return profile


def an_event(event_type: str = "location.enter_area", *, customer: str = "8613800000001",
             area: str | None = "PEK_T3", event_id: str | None = None, age: timedelta = timedelta(0),
             **attributes: Any) -> dict[str, Any]:
    """A SPEC 4.1 event that occurred `age` ago; `area` fills area_id for location events."""
    if area is not None and event_type.startswith("location."):
        attributes = {"area_id": area, **attributes}
    return {
        "event_id": event_id or f"evt-{uuid.uuid4().hex[:12]}", "event_type": event_type,
        "customer_id": customer, "occurred_at": (now_utc() - age).isoformat(),
        "source": "signalling", "touchpoint": "network", "attributes": attributes,
    }


def a_campaign(campaign_id: str = "roam-offer", *, priority: int = 50, area: str = "PEK_T3",
               text: str = "{name}您好，7天漫游包{offer_value}元，回复{reply_code}开通。",
               audience: dict[str, Any] | None = None, limits: dict[str, Any] | None = None,
               max_event_age: str | None = None, channels: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A SPEC 4.3 definition, live now, triggered by entering `area`; no limits unless given."""
    trigger: dict[str, Any] = {"event": "location.enter_area", "where": {"area_id": area}}
    if max_event_age:
        trigger["max_event_age"] = max_event_age
    return {
        "id": campaign_id, "name": f"Campaign {campaign_id}", "priority": priority, "schedule": ALWAYS,
        "trigger": trigger, "audience": audience or {"status": "active"},
        "offer": {"code": "ROAM_7D", "reply_code": "Y7", "value": 30.0},
        "channels": channels or [{"sms": {"text": text}}],
        "limits": limits or {},
    }


def sample_campaign(name: str) -> dict[str, Any]:
    """A shipped sample from events/campaigns/, as its stored definition."""
    loaded = load_campaign_file(project_path("events", "campaigns", f"{name}.yaml"), CATALOG)
    assert loaded.ok, loaded.errors
    return loaded.campaign.definition()


# ------------------------------------------------------------------ the world


class World:
    """The stack created in moto (inside an active `mock_aws`), and what a user can see of it."""

    def __init__(self) -> None:
        self.env = create_stack(None)
        self.pipeline: Pipeline | None = None
        ddb = self.client("dynamodb")
        self.campaigns = DynamoCampaignStore(ddb, self.env["CAMPAIGNS_TABLE"], CATALOG)
        self.profiles = DynamoProfileStore(ddb, self.env["PROFILES_TABLE"])
        self.ledger = DynamoContactLedger(ddb, self.env["CONTACTS_TABLE"])
        self.stream = KinesisRecordStream(self.client("kinesis"), self.env["CUSTOMER_EVENTS_STREAM"])

    @staticmethod
    def client(service: str) -> Any:
        return boto3.client(service, region_name=REGION)

    # ---- set up

    def add_campaigns(self, *definitions: dict[str, Any]) -> None:
        for definition in definitions:
            loaded = load_campaign(definition, CATALOG)
            assert loaded.ok, loaded.errors
            self.campaigns.put_campaign(loaded.campaign)

    def add_profiles(self, *profiles: dict[str, Any]) -> None:
        self.profiles.put_profiles([Profile.model_validate(p) for p in profiles])

    def start(self) -> Pipeline:
        """Cold-start the three handlers on their sources (their configuration is the env now)."""
        if self.pipeline is None:
            self.pipeline = Pipeline(self.env, self.client)
        return self.pipeline

    # ---- act

    def publish(self, *records: dict[str, Any] | bytes, partition_key: str | None = None) -> None:
        """One PutRecords call, as upstream does; partition key = customer_id unless given."""
        entries = []
        for record in records:
            data = record if isinstance(record, bytes) else json.dumps(record, ensure_ascii=False).encode()
            key = partition_key or (record.get("customer_id") if isinstance(record, dict) else None) or "unknown"
            entries.append((key, data))
        assert self.stream.put(entries) == []

    def run(self) -> None:
        """Let the pollers work until every stage is idle."""
        self.start().drain(idle_rounds=1)

    # ---- observe

    @staticmethod
    def sms() -> list[tuple[str, str]]:
        from moto.sns.models import sns_backends

        return list(sns_backends[ACCOUNT][REGION].sms_messages.values())

    @staticmethod
    def emails() -> list[Any]:
        from moto.ses.models import ses_backends

        return list(ses_backends[ACCOUNT][REGION].sent_messages)

    def decisions(self, event_id: str | None = None) -> list[dict[str, Any]]:
        rows = S3DecisionLog(self.client("s3"), self.env["DECISIONS_BUCKET"]).read()
        return [row for row in rows if event_id is None or row["event_id"] == event_id]

    def decision(self, event: dict[str, Any], campaign_id: str) -> dict[str, Any]:
        """The one decision of `event` × campaign (re-written rows of a replay must agree)."""
        rows = [r for r in self.decisions(event["event_id"]) if r["campaign_id"] == campaign_id]
        assert rows, f"no decision record for {event['event_id']} × {campaign_id}"
        distinct = {(r["outcome"], r["reason"], r["channel"], r.get("detail")) for r in rows}
        assert len(distinct) == 1, f"conflicting decision records: {rows}"
        return rows[0]

    def dead_letters(self) -> list[dict[str, Any]]:
        """Every message on the events DLQ (received and deleted)."""
        sqs, url, bodies = self.client("sqs"), self.env["EVENTS_DLQ_URL"], []
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
            if not messages:
                return bodies
            bodies += [json.loads(m["Body"]) for m in messages]
            sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])

    def messages_on(self, env_name: str) -> int:
        """Messages on a queue, visible or in flight."""
        attributes = self.client("sqs").get_queue_attributes(
            QueueUrl=self.env[env_name], AttributeNames=["ApproximateNumberOfMessages",
                                                         "ApproximateNumberOfMessagesNotVisible",
                                                         "ApproximateNumberOfMessagesDelayed"])["Attributes"]
        return sum(int(v) for v in attributes.values())

    def contacts(self, customer: str) -> list[dict[str, Any]]:
        """The delivered contacts recorded for a customer."""
        return self.ledger.contacts(customer)

    def contacts_counted(self, customer: str, campaign_id: str) -> int:
        """The (customer, campaign) contact counter the caps are checked against."""
        item = self.client("dynamodb").get_item(TableName=self.env["CONTACTS_TABLE"], Key={
            "customer_id": {"S": customer}, "sk": {"S": "state"}}).get("Item") or {}
        return int(item[f"n#{campaign_id}"]["N"]) if f"n#{campaign_id}" in item else 0


class QuietWindow:
    """Quiet hours (UTC, whole seconds) that started a minute ago and end `seconds_left` from now:
    long enough that a loaded machine still decides inside them; `wait()` sleeps until they end."""

    def __init__(self, seconds_left: int = 10):
        now = datetime.now(timezone.utc)
        self.end = (now + timedelta(seconds=seconds_left)).replace(microsecond=0)
        self.hours = {"start": (now - timedelta(minutes=1)).strftime("%H:%M:%S"), "end": self.end.strftime("%H:%M:%S")}

    def wait(self, margin_s: float = 0.5) -> None:
        time.sleep(max(0.0, (self.end - datetime.now(timezone.utc)).total_seconds() + margin_s))
