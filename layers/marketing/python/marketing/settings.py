"""Configuration, read once from the environment at cold start and validated.

Every resource name comes from here (the environment variables are named in `resources`), so the
code that runs on AWS never knows whether it talks to AWS or to the local emulator.
"""
from __future__ import annotations

import os
from functools import cached_property
from typing import Mapping

from pydantic import BaseModel, ConfigDict, Field

from marketing import resources
from marketing.domain.catalog import EventCatalog
from marketing.domain.contact_policy import ContactPolicy
from marketing.domain.models import Channel
from marketing.domain.touchpoints import Touchpoints


class MissingSetting(RuntimeError):
    pass


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    profiles_table: str | None = None
    campaigns_table: str | None = None
    contacts_table: str | None = None
    idempotency_table: str | None = None
    counters_table: str | None = None
    offers_table: str | None = None
    responses_table: str | None = None
    responses_dlq_url: str | None = None
    inbound_sms_topic_arn: str | None = None
    touchpoints_path: str = "events/touchpoints.yaml"
    opt_out_keywords: frozenset[str] = frozenset({"TD", "STOP", "退订"})
    customer_events_stream: str | None = None
    enriched_events_stream: str | None = None
    events_dlq_url: str | None = None
    delivery_queue_url: str | None = None
    decisions_firehose: str | None = None
    decisions_bucket: str | None = None
    reports_bucket: str | None = None
    catalog_path: str = "events/catalog.yaml"
    contact_policy_path: str = "events/contact_policy.yaml"
    campaign_cache_seconds: float = Field(default=30.0, ge=0)
    idempotency_expiry_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    contact_history_days: int = Field(default=180, ge=1)
    channels: frozenset[Channel] = frozenset({Channel.SMS, Channel.EMAIL})
    sms_sender_id: str | None = None
    sms_type: str = "Promotional"
    email_sender: str = "offers@example.com"

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        values: dict[str, object] = {}
        described = [*resources.TABLES, *resources.STREAMS, *resources.QUEUES, *resources.BUCKETS,
                     *resources.DELIVERY_STREAMS, *resources.TOPICS]
        for resource in described:
            if resource.env in env:
                values[resource.env.lower()] = env[resource.env]
        for key in ("CATALOG_PATH", "CONTACT_POLICY_PATH", "CAMPAIGN_CACHE_SECONDS", "IDEMPOTENCY_EXPIRY_SECONDS", "CONTACT_HISTORY_DAYS",
                    "SMS_SENDER_ID", "SMS_TYPE", "EMAIL_SENDER", "TOUCHPOINTS_PATH"):
            if key in env:
                values[key.lower()] = env[key]
        if "DELIVERY_CHANNELS" in env:
            values["channels"] = frozenset(c.strip() for c in env["DELIVERY_CHANNELS"].split(",") if c.strip())
        if "OPT_OUT_KEYWORDS" in env:
            values["opt_out_keywords"] = frozenset(k.strip() for k in env["OPT_OUT_KEYWORDS"].split(",") if k.strip())
        return cls.model_validate(values)

    def require(self, *names: str) -> None:
        missing = [n for n in names if getattr(self, n) is None]
        if missing:
            raise MissingSetting("missing configuration: " + ", ".join(n.upper() for n in missing))

    @cached_property
    def catalog(self) -> EventCatalog:
        return EventCatalog.from_file(self.catalog_path)

    @cached_property
    def touchpoints(self) -> Touchpoints:
        return Touchpoints.from_file(self.touchpoints_path)

    @cached_property
    def contact_policy(self) -> ContactPolicy:
        return ContactPolicy.from_file(self.contact_policy_path)
