"""Live campaigns with a short cache, so a newly activated campaign is matched without a redeploy.

The index is rebuilt only when the set of campaigns changed or a schedule boundary passed.
"""
from __future__ import annotations

import time
from datetime import datetime
from typing import Callable

from marketing.domain.matching import CampaignIndex
from marketing.ports import CampaignStore


class CampaignCache:
    def __init__(self, store: CampaignStore, ttl_seconds: float, monotonic: Callable[[], float] = time.monotonic):
        self._store, self._ttl, self._monotonic = store, ttl_seconds, monotonic
        self._index: CampaignIndex | None = None
        self._loaded_at = float("-inf")
        self._fingerprint: tuple = ()

    def index(self, now: datetime) -> CampaignIndex:
        if self._index is None or self._monotonic() - self._loaded_at >= self._ttl:
            campaigns = self._store.live_campaigns()
            fingerprint = tuple(sorted((c.id, hash(c.model_dump_json())) for c in campaigns))
            if self._index is None or fingerprint != self._fingerprint or self._index.stale(now):
                self._index = CampaignIndex(campaigns, now)
                self._fingerprint = fingerprint
            self._loaded_at = self._monotonic()
        elif self._index.stale(now):
            self._index = CampaignIndex(list(self._index.campaigns.values()), now)
        return self._index
