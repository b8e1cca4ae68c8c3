"""Configuration, read once from the environment at cold start and validated.

Every resource name comes from here (the environment variables are named in `resources`), so the
code that runs on AWS never knows whether it talks to AWS or to the local emulator.
"""
from __future__ import annotations

import os
from functools import cached_property
from typing import Mapping

from pydantic import BaseModel, ConfigDict, Field

from marketing import data, resources
from marketing.data import packaged
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
    touchpoints_path: str = str(packaged(data.TOUCHPOINTS))
    opt_out_keywords: frozenset[str] = frozenset({"TD", "STOP", "退订"})
    customer_events_stream: str | None = None
    enriched_events_stream: str | None = None
    events_dlq_url: str | None = None
    delivery_queue_url: str | None = None
    decisions_firehose: str | None = None
    decisions_bucket: str | None = None
    reports_bucket: str | None = None
    catalog_path: str = str(packaged(data.CATALOG))               # package data unless configured
    contact_policy_path: str = str(packaged(data.CONTACT_POLICY))
    campaign_cache_seconds: float = Field(default=30.0, ge=0)
    idempotency_expiry_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    contact_history_days: int = Field(default=180, ge=1)
    channels: frozenset[Channel] = frozenset({Channel.SMS, Channel.EMAIL})
    sms_sender_id: str | None = None
    sms_type: str = "Promotional"
    email_sender: str = "offers@example.com"
    # channels and delivery (README "Channels")
    settings_table: str | None = None
    send_rates_table: str | None = None
    policy_cache_seconds: float = Field(default=30.0, ge=0)
    sms_origination_number: str | None = None   # the long code or short code SMS go out from
    sms_sender: str = "default"                  # which send_rates entry of sms applies (e.g. long_code)
    unsubscribe_base_url: str = "https://example.com/unsubscribe"
    unsubscribe_secret: str | None = None        # signs unsubscribe tokens (customer + campaign)
    unsubscribe_secret_arn: str | None = None    # …or the Secrets Manager secret holding it (deployed stacks)
    unsubscribe_mailto: str | None = None
    delivery_retry_attempts: int = Field(default=3, ge=1)
    delivery_retry_backoff_seconds: float = Field(default=0.2, ge=0)
    pacing_horizon_seconds: float = Field(default=2.0, ge=0)
    # campaign lifecycle (Step Functions)
    audit_table: str | None = None
    approvals_topic_arn: str | None = None
    owners_topic_arn: str | None = None
    approval_state_machine_arn: str | None = None
    evaluation_state_machine_arn: str | None = None
    approval_link_url: str | None = None          # the approval API's base URL (links in the approvers' email)
    approval_budget_threshold: float = Field(default=100_000.0, ge=0)   # over it: a second approver
    evaluation_delay_seconds: int | None = Field(default=None, ge=0)   # set: evaluate this long after activation
    estimate_max_events: int = Field(default=200_000, ge=1)
    cost_per_contact: float = Field(default=0.05, ge=0)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        values: dict[str, object] = {}
        described = [*resources.TABLES, *resources.STREAMS, *resources.QUEUES, *resources.BUCKETS,
                     *resources.DELIVERY_STREAMS, *resources.TOPICS, *resources.STATE_MACHINES]
        for resource in described:
            if resource.env in env:
                values[resource.env.lower()] = env[resource.env]
        for key in ("CATALOG_PATH", "CONTACT_POLICY_PATH", "CAMPAIGN_CACHE_SECONDS", "IDEMPOTENCY_EXPIRY_SECONDS", "CONTACT_HISTORY_DAYS",
                    "SMS_SENDER_ID", "SMS_TYPE", "EMAIL_SENDER", "POLICY_CACHE_SECONDS", "SMS_ORIGINATION_NUMBER",
                    "SMS_SENDER", "UNSUBSCRIBE_BASE_URL", "UNSUBSCRIBE_SECRET", "UNSUBSCRIBE_SECRET_ARN", "UNSUBSCRIBE_MAILTO",
                    "DELIVERY_RETRY_ATTEMPTS", "DELIVERY_RETRY_BACKOFF_SECONDS", "PACING_HORIZON_SECONDS",
                    "APPROVAL_LINK_URL", "APPROVAL_BUDGET_THRESHOLD",
                    "EVALUATION_DELAY_SECONDS", "ESTIMATE_MAX_EVENTS", "COST_PER_CONTACT", "TOUCHPOINTS_PATH"):
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
