"""Campaigns read through one short cache, so a newly activated campaign is matched (and an edited
template sent) without a redeploy; decide, deliver and the SMS replies all read through it.

The index is rebuilt only when the set of campaigns changed or a schedule boundary passed.
"""
from __future__ import annotations

import time
from datetime import datetime
from typing import Callable

from marketing.domain.campaigns import Campaign
from marketing.domain.matching import CampaignIndex
from marketing.ports import CampaignStore


class CampaignCache:
    def __init__(self, store: CampaignStore, ttl_seconds: float, monotonic: Callable[[], float] = time.monotonic):
        self._store, self._ttl, self._monotonic = store, ttl_seconds, monotonic
        self._index: CampaignIndex | None = None
        self._live: list[Campaign] = []
        self._loaded_at = float("-inf")
        self._fingerprint: tuple = ()
        self._by_id: dict[str, tuple[float, Campaign | None]] = {}

    def _fresh(self, loaded_at: float) -> bool:
        return self._monotonic() - loaded_at < self._ttl

    def live(self) -> list[Campaign]:
        """The active campaigns (whatever their schedule), read at most once per ttl."""
        if not self._fresh(self._loaded_at):
            self._live = self._store.live_campaigns()
            self._loaded_at = self._monotonic()
        return self._live

    def index(self, now: datetime) -> CampaignIndex:
        if self._index is None or not self._fresh(self._loaded_at):
            self._loaded_at = float("-inf")
            campaigns = self.live()
            fingerprint = tuple(sorted((c.id, hash(c.model_dump_json())) for c in campaigns))
            if self._index is None or fingerprint != self._fingerprint or self._index.stale(now):
                self._index = CampaignIndex(campaigns, now)
                self._fingerprint = fingerprint
        elif self._index.stale(now):
            self._index = CampaignIndex(list(self._index.campaigns.values()), now)
        return self._index

    def campaign(self, campaign_id: str) -> Campaign | None:
        """One campaign whatever its status (an offer decided before it was paused is still delivered)."""
        cached = self._by_id.get(campaign_id)
        if cached is None or not self._fresh(cached[0]):
            cached = self._by_id[campaign_id] = (self._monotonic(), self._store.get_campaign(campaign_id))
        return cached[1]
