"""Consents as a record (SPEC 4.7): who may change a channel's consent, and a bulk import merged
into a stored profile without undoing the customer's own choice.

Pure: the stored profile, the change and the policy come in, the new profile goes out. A profile
keeps each channel's changes (`consent_history`: value, time, source), so the last change of a
channel says who set its current value and when. The customer's own changes (a reply keyword, the
unsubscribe link, care) always apply; another source may change a consent the customer set only
when it is newer than that change and the policy (contact policy file, `consents`) lets it — and a
withdrawal by the customer is never turned back on by an import, whatever the policy says.
"""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from marketing.domain.models import CONSENT_HISTORY_KEPT, ConsentChange, ConsentSource, Consents, Profile

Action = Literal["grant", "withdraw"]
CUSTOMER_SOURCES = frozenset({ConsentSource.REPLY_KEYWORD, ConsentSource.UNSUBSCRIBE_LINK, ConsentSource.CARE})
# fields an import never writes: the profile's own record of what events and consents did to it
KEPT_BY_PROFILE = frozenset({"customer_id", "applied", "windows", "expiry", "consent_history"})


class ConsentPolicy(BaseModel):
    """Operator-editable (events/contact_policy.yaml, `consents`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    customer_sources: frozenset[ConsentSource] = CUSTOMER_SOURCES
    # what a source may do to a consent the customer set last, when newer than the customer's change
    may_override: dict[ConsentSource, frozenset[Action]] = Field(default_factory=lambda: {
        ConsentSource.IMPORT: frozenset({"withdraw"}), ConsentSource.API: frozenset({"withdraw"})})


def _action(channel: str, value: bool) -> Action:
    """A change that lets less marketing through is a withdrawal (dnd on, any other consent off)."""
    return "withdraw" if value == (channel == "dnd") else "grant"


def refusal(profile: Profile, channel: str, value: bool, at: datetime, source: ConsentSource,
            policy: ConsentPolicy) -> str | None:
    """Why `source` may not set `channel` to `value` at `at` on this profile; None when it may."""
    last = profile.consent_change(channel)
    if source in policy.customer_sources or last is None or last.source not in policy.customer_sources:
        return None
    action = _action(channel, value)
    by = f"the customer's {last.source.value} of {last.at.isoformat()}"
    if source is ConsentSource.IMPORT and action == "grant" and _action(channel, last.value) == "withdraw":
        return f"kept {getattr(profile.consents, channel)}: withdrawn by {by}; an import never reverts it"
    if at <= last.at:
        return f"kept {getattr(profile.consents, channel)}: {source.value} is not newer than {by}"
    if action not in policy.may_override.get(source, frozenset()):
        return f"kept {getattr(profile.consents, channel)}: {source.value} may not {action} after {by}"
    return None


def with_consent(profile: Profile, channel: str, value: bool, at: datetime, source: ConsentSource) -> Profile:
    """The profile with `channel` set to `value` by `source` at `at`, the change recorded."""
    history = profile.consent_history + (ConsentChange(channel=channel, value=value, at=at, source=source),)
    mine = [i for i, c in enumerate(history) if c.channel == channel]
    if len(mine) > CONSENT_HISTORY_KEPT:
        dropped = set(mine[:len(mine) - CONSENT_HISTORY_KEPT])
        history = tuple(c for i, c in enumerate(history) if i not in dropped)
    consents = profile.consents.model_copy(update={channel: value})
    return profile.model_copy(update={"consents": consents, "consent_history": history})


def change(profile: Profile, channel: str, value: bool, at: datetime, source: ConsentSource,
           policy: ConsentPolicy) -> tuple[Profile, str | None]:
    """(the profile after the change, None) or (the profile unchanged, why not). A source other than
    the customer setting the value the consent already has records nothing."""
    why = refusal(profile, channel, value, at, source, policy)
    if why is not None:
        return profile, why
    if getattr(profile.consents, channel) == value and source not in policy.customer_sources \
            and profile.consent_change(channel) is not None:
        return profile, None
    return with_consent(profile, channel, value, at, source), None


def merge_import(stored: Profile | None, incoming: Profile, at: datetime,
                 policy: ConsentPolicy) -> tuple[Profile, list[str]]:
    """An imported row merged into the stored profile: the row's fields replace the stored ones, its
    tags and usage months are added to them, its consents go through `change` (source import);
    everything the row does not name stays. Returns the profile and each consent left unchanged."""
    given = incoming.consents.model_fields_set
    if stored is None:
        profile = incoming.model_copy(update={"consents": Consents(), "consent_history": ()})
    else:
        update = {name: getattr(incoming, name) for name in incoming.model_fields_set - KEPT_BY_PROFILE
                  if name not in ("consents", "tags", "usage")}
        if incoming.tags:
            update["tags"] = {**stored.tags, **incoming.tags}
        if incoming.usage:
            update["usage"] = {**stored.usage, **incoming.usage}
        profile = stored.model_copy(update=update)
    kept = []
    for channel in Consents.model_fields:
        if stored is None or channel in given:
            profile, why = change(profile, channel, getattr(incoming.consents, channel), at, ConsentSource.IMPORT, policy)
            if why:
                kept.append(f"consents.{channel}: {why}")
    return profile, kept
