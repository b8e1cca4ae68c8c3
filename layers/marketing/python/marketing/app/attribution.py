"""Attribution on the enriched stream: decide already sees every event, so a conversion or an
unsubscribe is attributed there — a dict lookup per event, and reads only for the few events whose
type is some live campaign's conversion event (or an unsubscribe). Holdout decisions are recorded
as exposures so control customers' conversions are counted exactly like treated ones.
"""
from __future__ import annotations

from datetime import datetime
from typing import Mapping

from marketing.domain.campaigns import Campaign
from marketing.domain.models import CustomerEvent
from marketing.domain.responses import (UNSUBSCRIBE_EVENTS, Exposure, Group, attribute_conversion, attribute_unsubscribe,
                                        conversion_campaigns, converted)
from marketing.ports import Exposures, ResponseStore


class Attribution:
    def __init__(self, exposures: Exposures, responses: ResponseStore):
        self._exposures, self._responses = exposures, responses
        self._by_type: dict[str, list[Campaign]] = {}
        self._campaigns: Mapping[str, Campaign] | None = None
        self._holdouts: list[tuple[str, str, str, datetime]] = []

    def _conversions(self, campaigns: Mapping[str, Campaign]) -> dict[str, list[Campaign]]:
        if campaigns is not self._campaigns:  # rebuilt only when the campaign index is rebuilt
            self._by_type, self._campaigns = conversion_campaigns(campaigns.values()), campaigns
        return self._by_type

    def record_holdout(self, event: CustomerEvent, campaign_id: str, at: datetime) -> None:
        """Kept until `flush` (decide flushes once per batch)."""
        self._holdouts.append((event.customer_id, campaign_id, event.event_id, at))

    def flush(self) -> None:
        if self._holdouts:
            self._exposures.record_holdouts(self._holdouts)
            self._holdouts = []

    def observe(self, event: CustomerEvent, campaigns: Mapping[str, Campaign]) -> int:
        """Records what this event shows (`campaigns`: the live index, id → campaign); returns how many are new."""
        records = []
        candidates = self._conversions(campaigns).get(event.event_type)
        if candidates and (matched := converted(event, candidates)):  # the rule first: no read for a miss
            exposures = self._exposures.exposures(event.customer_id) + [  # and this batch's, not yet written
                Exposure(campaign, event_id, at, Group.HOLDOUT)
                for customer, campaign, event_id, at in self._holdouts if customer == event.customer_id]
            records += attribute_conversion(event, matched, exposures)
        if event.event_type in UNSUBSCRIBE_EVENTS:
            records += attribute_unsubscribe(event, self._responses.for_customer(event.customer_id))
        return self._responses.add(records) if records else 0
