"""In-memory fakes of the inbound-touchpoint and response ports, keeping real state and the same
conditional behaviour as marketing.adapters.aws_responses (checked by the same contract tests).
Never used in the code path that runs on AWS.
"""
from __future__ import annotations

import threading
from datetime import datetime
from typing import Any, Sequence

from marketing.domain.consents import with_consent
from marketing.domain.models import ConsentSource, Profile
from marketing.domain.responses import Exposure, Group, ResponseRecord


class MemoryOfferBoard:
    def __init__(self) -> None:
        self.sessions_by_customer: dict[str, dict[str, datetime]] = {}
        self.offers: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def sessions_of(self, customer_ids) -> dict[str, dict[str, datetime]]:
        return {c: dict(self.sessions_by_customer[c]) for c in set(customer_ids) if c in self.sessions_by_customer}

    def save_sessions(self, sessions: dict[str, dict[str, datetime]]) -> None:
        for customer_id, by_touchpoint in sessions.items():  # stored at whole seconds, as the table does
            self.sessions_by_customer[customer_id] = {tp: u.replace(microsecond=0) for tp, u in by_touchpoint.items()}

    def sessions(self, customer_id: str) -> dict[str, datetime]:
        return dict(self.sessions_by_customer.get(customer_id, {}))

    def put_offer(self, offer: dict[str, Any]) -> bool:
        key = (offer["customer_id"], f"offer#{offer['touchpoint']}#{offer['event_id']}")
        with self._lock:
            if key in self.offers:
                return False
            self.offers[key] = {**offer, "sk": key[1]}
            return True

    def open_offers(self, customer_id: str, touchpoint: str) -> list[dict[str, Any]]:
        prefix = f"offer#{touchpoint}#"
        return [dict(o) for (c, sk), o in self.offers.items() if c == customer_id and sk.startswith(prefix)]

    def move(self, customer_id: str, sk: str, to: str, allowed_from: Sequence[str], at: datetime) -> bool:
        with self._lock:
            offer = self.offers.get((customer_id, sk))
            if offer is None or offer.get("status") not in allowed_from:
                return False
            offer.update({"status": to, f"{to}_at": at.isoformat()})
            return True


class MemoryResponseStore:
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], ResponseRecord] = {}
        self._lock = threading.Lock()

    def add(self, records: Sequence[ResponseRecord]) -> int:
        new = 0
        with self._lock:
            for record in records:
                if (record.customer_id, record.sk) not in self.records:
                    self.records[(record.customer_id, record.sk)] = record
                    new += 1
        return new

    def remove(self, record: ResponseRecord) -> None:
        self.records.pop((record.customer_id, record.sk), None)

    def for_customer(self, customer_id: str) -> list[ResponseRecord]:
        return [r for (c, _), r in self.records.items() if c == customer_id]

    def for_campaign(self, campaign_id: str) -> list[ResponseRecord]:
        return [r for r in self.records.values() if r.campaign_id == campaign_id]

    def everything(self) -> list[ResponseRecord]:
        return list(self.records.values())


class MemoryExposures:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Exposure] = {}

    def record_contact(self, customer_id: str, campaign_id: str, event_id: str, channel: str, at: datetime) -> None:
        """What deliver's contact record is to attribution (the ledger writes it on AWS)."""
        self.items[(customer_id, f"contact#{event_id}")] = Exposure(campaign_id, event_id, at, Group.TREATED, channel)

    def record_holdouts(self, holdouts) -> None:
        for customer_id, campaign_id, event_id, at in holdouts:
            self.record_holdout(customer_id, campaign_id, event_id, at)

    def record_holdout(self, customer_id: str, campaign_id: str, event_id: str, at: datetime) -> None:
        self.items[(customer_id, f"holdout#{event_id}#{campaign_id}")] = Exposure(campaign_id, event_id, at,
                                                                                   Group.HOLDOUT)

    def exposures(self, customer_id: str) -> list[Exposure]:
        return [e for (c, _), e in self.items.items() if c == customer_id]


class MemorySubscribers:
    def __init__(self, profiles: dict[str, Profile]) -> None:
        self.profiles = profiles   # shared with a MemoryProfileStore's `profiles`
        self.opted_out: dict[tuple[str, str], datetime] = {}

    def customer_by_msisdn(self, msisdn: str) -> str | None:
        wanted = msisdn if msisdn.startswith("+") else f"+{msisdn}"
        return next((p.customer_id for p in self.profiles.values() if p.msisdn == wanted), None)

    def opt_out(self, customer_id: str, channel: str, at: datetime,
                source: ConsentSource = ConsentSource.REPLY_KEYWORD) -> bool:
        profile = self.profiles.get(customer_id)
        if profile is None:
            return False
        self.profiles[customer_id] = with_consent(profile, channel, channel == "dnd", at, source)
        self.opted_out[(customer_id, channel)] = at
        return True
