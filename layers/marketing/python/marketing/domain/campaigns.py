"""Campaign definitions (SPEC 4.3): the marketer's 4W2H, loaded from YAML or JSON.

`load_campaign` reports *every* error with its path (`audience.any[1].tags.x: unknown operator
'gtee'`), merging pydantic's structural errors with the condition parser's. It never raises on
bad input and never returns a half-valid campaign.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping

import yaml
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from marketing.domain.catalog import EventCatalog
from marketing.domain.conditions import EVENT, FIELD, TRUE, LocatedError, Node, Scope, parse
from marketing.domain.durations import format_duration, parse_duration, parse_percent
from marketing.domain.models import OUTBOUND, Channel, nesting_depth

Duration = Annotated[timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, when_used="json")]
Percent = Annotated[float, BeforeValidator(parse_percent)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Schedule(_Strict):
    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> Schedule:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class Trigger(_Strict):
    event: str
    where: dict[str, Any] | None = None
    max_event_age: Duration | None = None


class Offer(_Strict):
    code: str = Field(min_length=1)
    reply_code: str | None = None
    value: float = Field(default=0.0, ge=0)


class SmsTemplate(_Strict):
    text: str = Field(min_length=1)


class PushTemplate(_Strict):
    title: str = Field(min_length=1)
    body: str = Field(min_length=1)


class EmailTemplate(_Strict):
    subject: str = Field(min_length=1)
    text: str = Field(min_length=1)
    html: str | None = None


class ChannelSpec(_Strict):
    """One entry of `channels`: a single-key map naming the channel and its template."""

    sms: SmsTemplate | None = None
    app_push: PushTemplate | None = None
    email: EmailTemplate | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ChannelSpec:
        named = [c for c in OUTBOUND if getattr(self, c.value) is not None]
        if len(named) != 1:
            raise ValueError("each channel entry names exactly one of sms, app_push, email")
        return self

    @cached_property
    def channel(self) -> Channel:
        return next(c for c in OUTBOUND if getattr(self, c.value) is not None)

    @property
    def template(self) -> SmsTemplate | PushTemplate | EmailTemplate:
        return getattr(self, self.channel.value)


class Limits(_Strict):
    per_customer: int | None = Field(default=None, ge=1)
    cooldown: Duration | None = None
    daily_cap: int | None = Field(default=None, ge=1)
    budget: float | None = Field(default=None, ge=0)


class Conversion(_Strict):
    event: str
    where: dict[str, Any] | None = None
    window: Duration


class Campaign(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    name: str = Field(min_length=1)
    priority: int = Field(ge=0, le=1000)
    schedule: Schedule
    trigger: Trigger
    audience: dict[str, Any] = Field(default_factory=dict)
    offer: Offer
    channels: list[ChannelSpec] = Field(min_length=1)
    limits: Limits = Field(default_factory=Limits)
    control_group: Percent = 0.0
    conversion: Conversion | None = None
    quiet_hours: Literal["defer", "drop"] = "defer"
    owner: str | None = None

    _where: Node = PrivateAttr(default=TRUE)
    _audience: Node = PrivateAttr(default=TRUE)
    _conversion_where: Node = PrivateAttr(default=TRUE)

    @property
    def where_rule(self) -> Node:
        return self._where

    @property
    def audience_rule(self) -> Node:
        return self._audience

    @property
    def conversion_rule(self) -> Node:
        return self._conversion_where

    @cached_property
    def arbitration_rank(self) -> tuple[int, str]:
        """Sort key of arbitration: highest priority first, then the campaign id (documented tie-break)."""
        return (-self.priority, self.id)

    @cached_property
    def max_event_age_s(self) -> float | None:
        age = self.trigger.max_event_age
        return age.total_seconds() if age is not None else None

    @cached_property
    def channel_order(self) -> tuple[Channel, ...]:
        return tuple(c.channel for c in self.channels)

    def channel_spec(self, channel: Channel) -> ChannelSpec | None:
        return next((c for c in self.channels if c.channel == channel), None)

    def live_at(self, now: datetime) -> bool:
        return self.schedule.start <= now <= self.schedule.end

    def definition(self) -> dict[str, Any]:
        """The definition as JSON-ready data (what the campaigns table stores)."""
        return self.model_dump(mode="json", exclude_none=True)


@dataclass(frozen=True)
class CampaignLoad:
    campaign: Campaign | None
    errors: list[LocatedError]

    @property
    def ok(self) -> bool:
        return self.campaign is not None


def _location(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _message(error: dict[str, Any]) -> str:
    msg = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return "unknown field"
    if error["type"] == "missing":
        return "required field is missing"
    return msg


MAX_NESTING = 64  # a campaign's deepest condition tree is a handful of levels


def load_campaign(data: Any, catalog: EventCatalog, tag_types: Mapping[str, str] | None = None) -> CampaignLoad:
    """Validate a campaign definition; every error comes back located, or a ready campaign. With the
    tag dictionary (`tag_types`, domain.tags) an unknown `tags.X` or a test that does not fit the
    tag's type is an error too (what validate and the approval workflow check; a stored campaign
    loads without it)."""
    if not isinstance(data, dict):
        return CampaignLoad(None, [LocatedError("", "a campaign definition is a map of fields")])
    if nesting_depth(data, MAX_NESTING) > MAX_NESTING:
        return CampaignLoad(None, [LocatedError("", f"the definition nests lists and maps more than {MAX_NESTING} deep")])
    errors: list[LocatedError] = []
    try:
        campaign = Campaign.model_validate(data)
    except ValidationError as exc:
        campaign = None
        for error in exc.errors():
            loc = error["loc"]
            # channel entries report the union members they tried; keep the path readable
            errors.append(LocatedError(_location(loc), _message(error)))

    trigger = data.get("trigger") if isinstance(data.get("trigger"), dict) else {}
    event_type = trigger.get("event")
    attributes = None
    if isinstance(event_type, str):
        if event_type in catalog:
            attributes = frozenset(catalog.types[event_type].attributes)
        else:
            errors.append(LocatedError("trigger.event", f"unknown event type '{event_type}' (not in the event catalog)"))
    where, where_errors = parse(trigger.get("where"), "trigger.where", Scope(EVENT, attributes, tag_types))
    audience, audience_errors = parse(data.get("audience"), "audience", Scope(FIELD, attributes, tag_types))
    errors += where_errors + audience_errors

    conversion_where: Node = TRUE
    conversion = data.get("conversion")
    if isinstance(conversion, dict):
        conv_type = conversion.get("event")
        conv_attributes = None
        if isinstance(conv_type, str):
            if conv_type in catalog:
                conv_attributes = frozenset(catalog.types[conv_type].attributes)
            else:
                errors.append(LocatedError("conversion.event", f"unknown event type '{conv_type}' (not in the event catalog)"))
        conversion_where, conv_errors = parse(conversion.get("where"), "conversion.where", Scope(EVENT, conv_attributes))
        errors += conv_errors

    if errors or campaign is None:
        return CampaignLoad(None, _dedupe(errors))
    campaign._where = where
    campaign._audience = audience
    campaign._conversion_where = conversion_where
    return CampaignLoad(campaign, [])


def _dedupe(errors: list[LocatedError]) -> list[LocatedError]:
    seen: set[tuple[str, str]] = set()
    out = []
    for error in errors:
        # pydantic also checks the raw audience/where maps only as "dict"; the parser's errors are the useful ones
        key = (error.where, error.message)
        if key not in seen:
            seen.add(key)
            out.append(error)
    return out


def read_definition(path: str | Path) -> Any:
    """Read a YAML or JSON campaign file (JSON is YAML, but JSON errors read better from json)."""
    text = Path(path).read_text(encoding="utf-8")
    if str(path).endswith(".json"):
        return json.loads(text)
    return yaml.safe_load(text)


def load_campaign_file(path: str | Path, catalog: EventCatalog, tag_types: Mapping[str, str] | None = None) -> CampaignLoad:
    try:
        data = read_definition(path)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        return CampaignLoad(None, [LocatedError("", f"cannot read {path}: {exc}")])
    except RecursionError:
        return CampaignLoad(None, [LocatedError("", f"cannot read {path}: it nests lists and maps more than "
                                                    f"{MAX_NESTING} deep")])
    return load_campaign(data, catalog, tag_types)
