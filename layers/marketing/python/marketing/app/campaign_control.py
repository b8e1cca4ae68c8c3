"""Live control of a campaign (SPEC 4.6 `campaign pause|resume|stop`, seed 003 跟踪调整): a marketer
pauses, resumes or stops a live campaign; every change is audited with who and why.

The campaign's row in the campaigns table carries its state (`active`, `paused`, `stopped`); decide
matches `active` campaigns only, so a change takes effect within the campaign cache's refresh
(CAMPAIGN_CACHE_SECONDS). Stopping ends the campaign for good; the caller starts its evaluation.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Protocol

from marketing.domain.approval import Action, identity


class CampaignStates(Protocol):
    def set_state(self, campaign_id: str, state: str, expected: tuple[str, ...]) -> bool:
        """Set the state when the current one is in `expected` (atomically); False otherwise."""


class AuditTrail(Protocol):
    def append(self, campaign_id: str, record: dict) -> None: ...


# action → (the state it sets, the states it may come from)
_MOVES = {Action.PAUSED: ("paused", ("active",)), Action.RESUMED: ("active", ("paused",)),
          Action.STOPPED: ("stopped", ("active", "paused"))}


@dataclass(frozen=True)
class ControlResult:
    accepted: bool
    state: str | None
    message: str


class CampaignControl:
    def __init__(self, states: CampaignStates, audit: AuditTrail, clock: Callable[[], datetime]):
        self._states, self._audit, self._clock = states, audit, clock

    def change(self, campaign_id: str, action: Action, by: str, comment: str | None = None) -> ControlResult:
        if action not in _MOVES:
            raise ValueError(f"{action} is not a live control (pause, resume, stop)")
        if not identity(by):
            return ControlResult(False, None, "the acting user must be named")
        state, expected = _MOVES[action]
        if not self._states.set_state(campaign_id, state, expected):
            return ControlResult(False, None, f"campaign {campaign_id} is not {' or '.join(expected)}: "
                                              f"it cannot be {action.value}")
        self._audit.append(campaign_id, {"at": self._clock().isoformat(), "action": action.value, "by": by.strip(),
                                         "comment": comment})
        return ControlResult(True, state, f"{campaign_id} {action.value} by {by.strip()}")
