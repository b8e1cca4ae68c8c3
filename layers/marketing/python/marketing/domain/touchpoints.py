"""Inbound sessions: which events open one (events/touchpoints.yaml, data), for how long, and where
an offer goes while one is open. Pure rules: the session store and the offers table are ports.

Never routes to an outbound channel: a customer in a session gets the offer at the touchpoint only.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Mapping

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from marketing.domain.durations import parse_duration
from marketing.domain.models import INBOUND, Channel

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _inbound(channel: Channel) -> Channel:
    if channel not in INBOUND:
        raise ValueError(f"{channel.value} is not an inbound touchpoint (use {', '.join(sorted(INBOUND))})")
    return channel


class SessionRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    touchpoint: Channel
    length: Duration = Field(default=timedelta(minutes=30))

    @field_validator("touchpoint")
    @classmethod
    def _is_inbound(cls, touchpoint: Channel) -> Channel:
        return _inbound(touchpoint)


class Touchpoints(BaseModel):
    """Which event types open (or close) an inbound session at which touchpoint."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sessions: dict[str, SessionRule] = Field(default_factory=dict)
    closes: dict[str, Channel] = Field(default_factory=dict)

    @field_validator("closes")
    @classmethod
    def _closes_inbound(cls, closes: dict[str, Channel]) -> dict[str, Channel]:
        return {event: _inbound(channel) for event, channel in closes.items()}

    @classmethod
    def from_file(cls, path: str | Path) -> Touchpoints:
        return cls.model_validate(yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {})

    def session_change(self, event_type: str, occurred_at: datetime) -> tuple[Channel, datetime] | None:
        """(touchpoint, open until) when this event opens or closes a session (closing = until now)."""
        rule = self.sessions.get(event_type)
        if rule is not None:
            return rule.touchpoint, occurred_at + rule.length
        closed = self.closes.get(event_type)
        if closed is not None:
            return closed, occurred_at
        return None


def current_touchpoint(sessions: Mapping[Channel, datetime], now: datetime) -> tuple[Channel, datetime] | None:
    """The touchpoint the customer is at now: of the open sessions, the one open longest into the
    future (the most recent contact); None when no session is open."""
    open_ = [(until, tp) for tp, until in sessions.items() if until > now]
    if not open_:
        return None
    until, touchpoint = max(open_, key=lambda pair: (pair[0], pair[1].value))
    return touchpoint, until
