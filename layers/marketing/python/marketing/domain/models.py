"""The contracts users touch (SPEC 4.1, 4.2, 4.5) as pydantic models, and the outcome vocabulary.

Values only: nothing here reads the clock, the environment or AWS. Campaign definitions
(SPEC 4.3) live in `campaigns`, because loading them must report every error, not the first.
"""
from __future__ import annotations

import re

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, field_validator

Scalar = str | int | float | bool | None


class Channel(StrEnum):
    """Where an offer goes: an outbound message, or an inbound touchpoint where the customer is
    in contact right now (the offer waits in the offers table for that touchpoint to show it)."""

    SMS = "sms"
    APP_PUSH = "app_push"
    EMAIL = "email"
    STORE = "store"   # store counter
    CARE = "care"     # care call (agent desktop / IVR)
    APP = "app"       # a live app session (in-app offer card)
    WEB = "web"       # a live web session (online business hall)


OUTBOUND = (Channel.SMS, Channel.APP_PUSH, Channel.EMAIL)
INBOUND = frozenset({Channel.STORE, Channel.CARE, Channel.APP, Channel.WEB})


class Outcome(StrEnum):
    SENT = "sent"
    DEFERRED = "deferred"
    HOLDOUT = "holdout"
    THROTTLED = "throttled"
    SUPPRESSED = "suppressed"
    NOT_ELIGIBLE = "not_eligible"
    EXPIRED = "expired"
    LOST_ARBITRATION = "lost_arbitration"
    FAILED = "failed"


class Reason(StrEnum):
    """The rule that decided a record; `detail` on the record says which condition or campaign."""

    AUDIENCE = "audience"                    # an audience condition is false (detail: its path)
    MAX_EVENT_AGE = "max_event_age"          # the event is older than trigger.max_event_age
    MARKETING_CONSENT = "marketing_consent"  # the customer refuses all marketing
    DND = "dnd"                              # do-not-disturb
    OPT_OUT = "opt_out"                      # the customer opted out of every channel the campaign uses
    NO_CHANNEL = "no_reachable_channel"      # consented channels, but no address to reach them (no msisdn/email)
    QUIET_HOURS = "quiet_hours"              # quiet hours in the customer's timezone (deferred or dropped)
    COMPLAINT = "complaint"                  # a recent complaint suppresses marketing to this customer
    GLOBAL_CONTROL = "global_control"        # the customer is in the global no-marketing control group
    CONTROL_GROUP = "control_group"          # the customer is in this campaign's holdout
    CAP = "cap"                              # a customer contact cap (detail: e.g. day.all, week.sms)
    PER_CUSTOMER = "per_customer"            # the campaign's per-customer cap is reached
    COOLDOWN = "cooldown"                    # the campaign contacted this customer too recently
    DAILY_CAP = "daily_cap"                  # the campaign's daily cap is reached
    BUDGET = "budget"                        # the campaign's budget is spent
    PRIORITY = "priority"                    # another campaign won arbitration (detail: the winner)
    TEMPLATE = "template"                    # the message could not be rendered (detail: the field)
    PROVIDER = "provider"                    # the channel provider refused the message


class DeadLetterReason(StrEnum):
    """Why an input record could not be processed (SPEC 4.1); the DLQ message carries it."""

    NOT_JSON = "not_json"
    MISSING_FIELD = "missing_field"
    INVALID_FIELD = "invalid_field"
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    INVALID_ATTRIBUTE = "invalid_attribute"
    IN_FUTURE = "in_future"
    TOO_OLD = "too_old"
    UNKNOWN_CUSTOMER = "unknown_customer"
    PROFILE_UPDATE = "profile_update"     # the catalog's update rules cannot apply to this profile
    UNPARSEABLE = "unparseable"           # anything else that kept the record from being read
    DUPLICATE_ID_CONFLICT = "duplicate_id_conflict"  # the customer's event_id came before with another event


# A customer's preference orders the outbound channels only (inbound touchpoints are where the customer
# is, not a preference); validated as the three names, kept as Channel members.
PreferredChannel = Annotated[Literal["sms", "app_push", "email"], AfterValidator(Channel)]


def nesting_depth(value: Any, limit: int) -> int:
    """How deeply lists and maps nest in `value` (a scalar is 0), counted without recursion and
    given up at `limit + 1`: a record nested thousands deep is refused, never a RecursionError."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list | tuple):
            depth += 1
            if depth > limit:
                return depth
            deepest = max(deepest, depth)
            stack.extend((v, depth) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def freeze(value: Any) -> Any:
    """Lists become tuples so every profile and attribute value is hashable (the matcher relies on it)."""
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), freeze(v)) for k, v in value.items()))
    return value


class CustomerEvent(BaseModel):
    """One upstream event (SPEC 4.1); partition key on Kinesis is customer_id."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: str = Field(min_length=1, max_length=128)
    event_type: str = Field(min_length=1, max_length=128)
    customer_id: str = Field(min_length=1, max_length=64)
    occurred_at: AwareDatetime
    source: str | None = None
    touchpoint: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("attributes")
    @classmethod
    def _frozen(cls, attributes: dict[str, Any]) -> dict[str, Any]:
        # hashable values (lists as tuples), absent rather than null: what the matcher reads
        return {k: freeze(v) for k, v in attributes.items() if v is not None}


class Consents(BaseModel):
    model_config = ConfigDict(frozen=True)

    marketing: bool = False
    sms: bool = False
    email: bool = False
    app_push: bool = False
    dnd: bool = False


class ConsentSource(StrEnum):
    """Who changed a consent: the data platform's bulk import, the customer (a reply keyword, the
    unsubscribe link, a care agent on the customer's word) or a system through the API."""

    IMPORT = "import"
    REPLY_KEYWORD = "reply_keyword"
    UNSUBSCRIBE_LINK = "unsubscribe_link"
    CARE = "care"
    API = "api"


class ConsentChange(BaseModel):
    """One change of one channel's consent: the value it took, when and by whom."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: Literal["marketing", "sms", "email", "app_push", "dnd"]
    value: bool
    at: AwareDatetime
    source: ConsentSource


CONSENT_HISTORY_KEPT = 10  # changes remembered per channel (the latest always among them)


_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


class MonthUsage(BaseModel):
    """One month of a customer's usage (SPEC 4.8): what the tariff advisor re-rates."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    voice_min: float = Field(default=0, ge=0)
    data_gb: float = Field(default=0, ge=0)
    sms: float = Field(default=0, ge=0)


class Profile(BaseModel):
    """A customer profile (SPEC 4.2). Tag values are scalars or lists of scalars."""

    model_config = ConfigDict(frozen=True)

    customer_id: str = Field(min_length=1, max_length=64)
    status: str = "active"
    name: str | None = None
    msisdn: str | None = None
    email: str | None = None
    timezone: str = "UTC"
    locale: str = "zh-CN"
    tags: dict[str, Any] = Field(default_factory=dict)
    consents: Consents = Field(default_factory=Consents)
    channel_preference: list[PreferredChannel] = Field(default_factory=list)
    # the SNS platform endpoint ARN the customer's app registered (app push goes there); extends SPEC 4.2
    push_endpoint: str | None = None
    # monthly usage keyed by month in the customer's timezone ("2026-11"), SPEC 4.8
    usage: dict[str, MonthUsage] = Field(default_factory=dict)

    @field_validator("usage")
    @classmethod
    def _months(cls, usage: dict[str, MonthUsage]) -> dict[str, MonthUsage]:
        bad = [k for k in usage if not _MONTH.fullmatch(k)]
        if bad:
            raise ValueError(f"usage is keyed by month (YYYY-MM), not {', '.join(sorted(bad))}")
        return usage
    # kept by the profile updates (SPEC 4.7, domain/profile_updates): the last events applied, each
    # rolling count's events by id, the time a product's tags expire
    applied: dict[str, str] = Field(default_factory=dict)  # event id → applied at, oldest first
    windows: dict[str, dict[str, int]] = Field(default_factory=dict)  # tag → event id → epoch s
    expiry: dict[str, str] = Field(default_factory=dict)
    # each consent's changes, oldest first: a channel's last entry is its current value's time and
    # source (domain/consents); a profile from before consents were recorded has none
    consent_history: tuple[ConsentChange, ...] = ()

    def consent_change(self, channel: str) -> ConsentChange | None:
        """The last recorded change of `channel`'s consent."""
        return next((c for c in reversed(self.consent_history) if c.channel == channel), None)

    @field_validator("tags")
    @classmethod
    def _scalar_tags(cls, tags: dict[str, Any]) -> dict[str, Any]:
        bad = [k for k, v in tags.items() if isinstance(v, dict)]
        if bad:
            raise ValueError(f"tag values must be scalars or lists, not maps: {', '.join(sorted(bad))}")
        return {k: freeze(v) for k, v in tags.items() if v is not None}

    def fields(self) -> dict[str, Any]:
        """The profile as the flat path → value map conditions read (tags excluded)."""
        flat: dict[str, Any] = {
            "customer_id": self.customer_id,
            "status": self.status,
            "timezone": self.timezone,
            "locale": self.locale,
            "channel_preference": tuple(str(c) for c in self.channel_preference),
        }
        for key in ("name", "msisdn", "email"):
            value = getattr(self, key)
            if value is not None:
                flat[key] = value
        for key, value in self.consents.model_dump().items():
            flat[f"consents.{key}"] = value
        return flat


PROFILE_FIELDS = frozenset(
    ["customer_id", "status", "name", "msisdn", "email", "timezone", "locale", "channel_preference"]
    + [f"consents.{k}" for k in Consents.model_fields]
)


class DecisionRecord(BaseModel):
    """The audit trail (SPEC 4.5): one per event × considered campaign. `detail` extends the contract."""

    model_config = ConfigDict(frozen=True)

    decision_id: str
    event_id: str
    customer_id: str
    campaign_id: str
    outcome: Outcome
    reason: Reason | None = None
    channel: Channel | None = None
    decided_at: datetime
    latency_ms: float
    detail: str | None = None
