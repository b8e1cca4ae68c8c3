"""Estimate (approval workflow): the backtest the approver reads before deciding.

Replays the events still in the customer-events stream with today's profiles through the real
matcher, screening, arbitration and contact policy (counted on a fresh ledger of its own, never the
live one), alongside the live campaigns. Writes nothing but one audit record.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from pydantic import ValidationError

from marketing.app.decide import contact_request
from marketing.domain.approval import Action
from marketing.domain.campaigns import load_campaign
from marketing.domain.catalog import EventCatalog
from marketing.domain.contact_policy import ContactPolicy
from marketing.domain.estimate import estimate
from marketing.domain.models import Channel, CustomerEvent
from marketing.ports import AuditTrail, CampaignStore, ContactLedger, EventHistory, ProfileStore


class EstimateCampaign:
    def __init__(self, history: EventHistory, profiles: ProfileStore, campaigns: CampaignStore, audit: AuditTrail,
                 catalog: EventCatalog, policy: ContactPolicy, new_ledger: Callable[[], ContactLedger],
                 clock: Callable[[], datetime], *, channels: frozenset[Channel] = frozenset(Channel),
                 max_events: int = 200_000, cost_per_contact: float = 0.0):
        self._history, self._profiles, self._campaigns, self._audit = history, profiles, campaigns, audit
        self._catalog, self._policy, self._new_ledger, self._clock = catalog, policy, new_ledger, clock
        self._channels, self._max_events, self._cost = channels, max_events, cost_per_contact

    def __call__(self, payload: dict[str, Any]) -> dict[str, Any]:
        loaded = load_campaign(payload["campaign"], self._catalog)
        if not loaded.ok:
            raise ValueError("; ".join(str(e) for e in loaded.errors))
        campaign = loaded.campaign
        events: list[CustomerEvent] = []
        unreadable = 0
        for raw in self._history.recent(self._max_events):
            try:
                events.append(CustomerEvent.model_validate(raw))
            except ValidationError:
                unreadable += 1
        profiles = self._profiles.get_profiles({e.customer_id for e in events})
        ledger = self._new_ledger()
        result = estimate(
            campaign, self._campaigns.live_campaigns(), [(e, profiles.get(e.customer_id)) for e in events],
            lambda candidate, event, profile, now: ledger.reserve(
                contact_request(candidate, event, profile, now, self._policy)),
            policy=self._policy, channels=self._channels, cost_per_contact=self._cost,
        ).to_json()
        result["unreadable_events"] = unreadable
        self._audit.append(campaign.id, {
            "at": self._clock().isoformat(), "action": Action.ESTIMATED.value, "by": "workflow",
            "comment": f"reach {result['reach']}, {result['sends_per_day']} sends/day over {result['events_replayed']} "
                       f"events, contact cost {result['contact_cost']}",
        })
        return result
