"""The one contact policy over all campaigns (SPEC 4.4): caps, quiet hours, suppressions, control groups.

Pure rules: given a customer, a campaign, a channel and the time, say which periods a contact
counts in and whether the customer may be contacted now. Counting itself is atomic and happens in
the contact ledger (a port), never by reading first; this module never does I/O.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from typing import Annotated

from marketing.domain.consents import ConsentPolicy
from marketing.domain.durations import parse_percent
from marketing.domain.models import Channel, Outcome, Profile, Reason

Percent = Annotated[float, BeforeValidator(parse_percent)]
PERIODS = ("day", "week", "month")
SendRate = Annotated[float, Field(gt=0)]


class Caps(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    day: int | None = Field(default=None, ge=0)
    week: int | None = Field(default=None, ge=0)
    month: int | None = Field(default=None, ge=0)

    def limit(self, period: str) -> int | None:
        return getattr(self, period)


class QuietHours(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    start: time = time(21, 0)
    end: time = time(8, 0)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _clock(cls, value: object) -> object:
        if isinstance(value, int):  # YAML reads 21:00 as sexagesimal 1260
            return time(value // 60, value % 60)
        return value

    def contains(self, local: time) -> bool:
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # spans midnight

    def ends_after(self, local: datetime) -> datetime:
        """The first moment at or after `local` outside quiet hours (same timezone)."""
        end = local.replace(hour=self.end.hour, minute=self.end.minute, second=self.end.second, microsecond=0)
        return end if end > local else end + timedelta(days=1)


class ContactPolicy(BaseModel):
    """Operator-editable (events/contact_policy.yaml). Caps count contacts across all campaigns."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    caps: dict[str, Caps] = Field(default_factory=dict)  # "all" and per channel
    quiet_hours: QuietHours | None = QuietHours()
    complaint_suppression_days: int = Field(default=30, ge=0)
    global_control_group: Percent = 0.0
    # messages per second the provider accepts: per channel, or per sender of a channel
    # (e.g. sms: {long_code: 1, short_code: 100, default: 100}); absent = unpaced
    send_rates: dict[Channel, SendRate | dict[str, SendRate]] = Field(default_factory=dict)
    consents: ConsentPolicy = ConsentPolicy()  # who may change a consent the customer set (domain/consents)

    @field_validator("caps")
    @classmethod
    def _known_channels(cls, caps: dict[str, Caps]) -> dict[str, Caps]:
        unknown = set(caps) - {"all", *[c.value for c in Channel]}
        if unknown:
            raise ValueError(f"caps for unknown channels: {', '.join(sorted(unknown))} (use all, sms, email, app_push)")
        return caps

    def send_rate(self, channel: Channel, sender: str | None = None) -> float | None:
        """Messages per second for this channel's sender (its own entry, else `default`), or None."""
        rate = self.send_rates.get(channel)
        if isinstance(rate, dict):
            return rate.get(sender or "default", rate.get("default"))
        return rate

    @classmethod
    def from_file(cls, path: str | Path) -> ContactPolicy:
        return cls.model_validate(yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {})


def local_time(at: datetime, timezone: str) -> datetime:
    try:
        return at.astimezone(ZoneInfo(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        return at.astimezone(ZoneInfo("UTC"))  # an unknown zone must not stop a decision


def period_keys(at: datetime, timezone: str) -> dict[str, str]:
    """The day, ISO week and month a contact at `at` counts in, on the customer's own calendar."""
    local = local_time(at, timezone)
    year, week, _ = local.isocalendar()
    return {"day": local.strftime("%Y-%m-%d"), "week": f"{year}-W{week:02d}", "month": local.strftime("%Y-%m")}


def period_end(at: datetime, timezone: str, period: str) -> datetime:
    """When the customer's current day/week/month ends (counters expire after it)."""
    local = local_time(at, timezone).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return local + timedelta(days=1)
    if period == "week":
        return local + timedelta(days=7 - local.weekday())
    first = local.replace(day=1)
    return (first + timedelta(days=32)).replace(day=1)


def in_group(customer_id: str, salt: str, percent: float) -> bool:
    """Stable assignment: the same customer is in or out on every run and every function."""
    if percent <= 0:
        return False
    digest = hashlib.sha256(f"{salt}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10_000 < percent * 100


@dataclass(frozen=True)
class CapCheck:
    """One cap a contact must fit in: which counter, its limit, and when the counter can go."""

    name: str            # e.g. "day.all", "week.sms": also the refusal's detail
    period: str          # day | week | month
    period_key: str      # e.g. 2026-11-23
    counter: str         # all | sms | email | app_push
    limit: int
    expires_at: datetime


def cap_checks(policy: ContactPolicy, channel: Channel, at: datetime, timezone: str) -> list[CapCheck]:
    keys = period_keys(at, timezone)
    checks = []
    for counter in ("all", channel.value):
        caps = policy.caps.get(counter)
        if caps is None:
            continue
        for period in PERIODS:
            limit = caps.limit(period)
            if limit is not None:
                checks.append(CapCheck(f"{period}.{counter}", period, keys[period], counter, limit,
                                       period_end(at, timezone, period)))
    return checks


def quiet_until(policy: ContactPolicy, at: datetime, timezone: str) -> datetime | None:
    """When quiet hours end for this customer, or None if they may be contacted now."""
    if policy.quiet_hours is None:
        return None
    local = local_time(at, timezone)
    if not policy.quiet_hours.contains(local.time()):
        return None
    return policy.quiet_hours.ends_after(local)


def release_refusal(profile: Profile | None, channel: Channel, policy: ContactPolicy | None = None,
                    now: datetime | None = None, complaint_until: datetime | None = None,
                    ) -> tuple[Outcome, Reason, str] | None:
    """Whether a held (deferred) contact may still go out when it is released: the customer may have
    withdrawn consent, set do-not-disturb, opted out of the channel or complained in the meantime,
    and the policy in force now (possibly a stricter live copy) may put them in the global control."""
    if profile is None:
        return Outcome.SUPPRESSED, Reason.NO_CHANNEL, "the customer's profile no longer exists"
    consents = profile.consents
    if not consents.marketing:
        return Outcome.SUPPRESSED, Reason.MARKETING_CONSENT, "withdrawn while the contact was held"
    if consents.dnd:
        return Outcome.SUPPRESSED, Reason.DND, "set while the contact was held"
    if not getattr(consents, channel.value, False):
        return Outcome.SUPPRESSED, Reason.OPT_OUT, f"opted out of {channel.value} while the contact was held"
    if policy is not None:
        if policy.complaint_suppression_days and complaint_until is not None and now is not None and complaint_until > now:
            return Outcome.SUPPRESSED, Reason.COMPLAINT, f"complaint while the contact was held (until {complaint_until.isoformat()})"
        if in_group(profile.customer_id, "global", policy.global_control_group):
            return Outcome.HOLDOUT, Reason.GLOBAL_CONTROL, "the policy in force at release"
    return None
