"""In-memory fakes of every port, keeping real state (and real limits) for unit tests and benchmarks.

They follow the same contracts as the AWS adapters; a lock makes the ledger's caps exact under
threads, as DynamoDB's conditional writes do. Never used in the code path that runs on AWS.
"""
from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Sequence

from marketing.domain.campaigns import Campaign
from marketing.domain.channels import ChannelHistory
from marketing.domain.contact_limits import ContactState, cap_key, refusal
from marketing.domain.decisions import Refusal
from marketing.domain.messages import Push
from marketing.domain.models import Profile
from marketing.ports import AlreadyReserved, ContactRequest, DeliveryError, EventMark


class MemoryProfileStore:
    def __init__(self, profiles: Iterable[Profile] = ()):
        self.profiles = {p.customer_id: p for p in profiles}
        self.reads = 0

    def get_profiles(self, customer_ids: Iterable[str]) -> dict[str, Profile]:
        ids = set(customer_ids)
        self.reads += (len(ids) + 99) // 100
        return {i: self.profiles[i] for i in ids if i in self.profiles}

    def put_profiles(self, profiles: Sequence[Profile]) -> None:
        self.profiles.update({p.customer_id: p for p in profiles})

    def update_profiles(self, changes: Sequence[tuple[Profile | None, Profile]]) -> set[str]:
        conflicted = set()
        for read, updated in changes:
            self.writes = getattr(self, "writes", 0) + 1
            if self.profiles.get(updated.customer_id) != read:
                conflicted.add(updated.customer_id)
            else:
                self.profiles[updated.customer_id] = updated
        return conflicted

    def merge_profiles(self, incoming: Sequence[Profile],
                       merge: Callable[[Profile | None, Profile], Profile]) -> None:
        for profile in incoming:
            self.profiles[profile.customer_id] = merge(self.profiles.get(profile.customer_id), profile)


class MemoryCampaignStore:
    def __init__(self, campaigns: Iterable[Campaign] = ()):
        self.items: dict[str, tuple[Campaign, str]] = {c.id: (c, "active") for c in campaigns}

    def live_campaigns(self) -> list[Campaign]:
        return [c for c, status in self.items.values() if status == "active"]

    def get_campaign(self, campaign_id: str) -> Campaign | None:
        found = self.items.get(campaign_id)
        return found[0] if found else None

    def put_campaign(self, campaign: Campaign, status: str = "active") -> None:
        self.items[campaign.id] = (campaign, status)

    def set_state(self, campaign_id: str, state: str, expected: tuple[str, ...]) -> bool:
        """The in-memory CampaignStates (app/campaign_control.py): the same items, the same condition."""
        found = self.items.get(campaign_id)
        if found is None or found[1] not in expected:
            return False
        self.items[campaign_id] = (found[0], state)
        return True


class MemoryContactLedger:
    def __init__(self) -> None:
        self.counters: dict[tuple[str, str], dict[str, Any]] = {}
        self.deliveries: dict[tuple[str, str], dict[str, Any]] = {}
        self.caps: dict[tuple[str, str, str, str], int] = {}
        self.daily: dict[tuple[str, str], int] = {}
        self.spent: dict[str, float] = {}
        self.complaints: dict[str, int] = {}
        self.complained: dict[str, set[str]] = {}
        self.responses: dict[str, dict[str, int]] = {}
        self.used: dict[str, dict[str, int]] = {}
        self.marks: dict[tuple[str, str], EventMark] = {}
        self._lock = threading.Lock()

    def reserve(self, request: ContactRequest, mark: EventMark | None = None) -> Refusal | None:
        key = (request.customer_id, request.campaign_id)
        now_s = int(request.now.timestamp())
        with self._lock:  # all limits checked, then all counted: as one DynamoDB transaction does
            if mark is not None and (request.customer_id, mark.event_id) in self.marks:
                raise AlreadyReserved(self.marks[(request.customer_id, mark.event_id)])
            state = self.counters.get(key, {"n": 0, "last_at": None})
            day = (request.campaign_id, request.campaign_day)
            spent = self.spent.get(request.campaign_id, 0.0)
            refused = refusal(request, ContactState(
                contacts=state["n"], last_at=state["last_at"],
                caps={cap_key(cap): self.caps.get((request.customer_id, cap.period, cap.period_key, cap.counter), 0)
                      for cap in request.caps},
                complaint_until=self.complaints.get(request.customer_id),
                day_count=self.daily.get(day, 0), spent=spent))
            if refused is not None:
                return refused
            self.counters[key] = {"n": state["n"] + 1, "last_at": now_s, "last_event": request.event_id}
            for cap in request.caps:
                slot = (request.customer_id, cap.period, cap.period_key, cap.counter)
                self.caps[slot] = self.caps.get(slot, 0) + 1
            if request.daily_cap is not None:
                self.daily[day] = self.daily.get(day, 0) + 1
            if request.budget is not None:
                self.spent[request.campaign_id] = spent + request.cost
            if mark is not None:
                self.marks[(request.customer_id, mark.event_id)] = mark
            return None

    def record_complaint(self, customer_id: str, until: datetime, channel: str | None = None) -> None:
        with self._lock:
            self.complaints[customer_id] = int(until.timestamp())
            if channel:
                self.complained.setdefault(customer_id, set()).add(channel)

    def record_response(self, customer_id: str, campaign_id: str, channel: str, at: datetime) -> None:
        with self._lock:
            counts = self.responses.setdefault(customer_id, {})
            counts[channel] = counts.get(channel, 0) + 1

    def complaint_until(self, customer_id: str) -> datetime | None:
        with self._lock:
            until = self.complaints.get(customer_id)
        return datetime.fromtimestamp(until, tz=timezone.utc) if until is not None else None

    def channel_history(self, customer_id: str) -> ChannelHistory:
        with self._lock:
            return ChannelHistory.from_counts(dict(self.used.get(customer_id, {})), dict(self.responses.get(customer_id, {})),
                                              sorted(self.complained.get(customer_id, ())))

    def begin_send(self, customer_id: str, campaign_id: str, event_id: str, channel: str, at: datetime) -> str | None:
        with self._lock:
            if (customer_id, event_id) in self.deliveries:
                return self.deliveries[(customer_id, event_id)]["state"]
            self.deliveries[(customer_id, event_id)] = {"campaign_id": campaign_id, "channel": channel, "at": at,
                                                        "state": "sending"}
            return None

    def release_send(self, customer_id: str, event_id: str) -> None:
        with self._lock:
            if self.deliveries.get((customer_id, event_id), {}).get("state") == "sending":
                del self.deliveries[(customer_id, event_id)]

    def record_delivery(self, customer_id: str, campaign_id: str, event_id: str, channel: str, at: datetime) -> bool:
        with self._lock:
            if self.deliveries.get((customer_id, event_id), {}).get("state") == "sent":
                return False
            self.deliveries[(customer_id, event_id)] = {"campaign_id": campaign_id, "channel": channel, "at": at,
                                                        "state": "sent"}
            used = self.used.setdefault(customer_id, {})
            used[channel] = used.get(channel, 0) + 1
            return True


class MemoryRecordStream:
    def __init__(self) -> None:
        self.records: list[tuple[str, bytes]] = []

    def put(self, records: Sequence[tuple[str, bytes]]) -> list[int]:
        self.records.extend(records)
        return []


class MemoryOutbox:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.delays: list[int] = []

    def send(self, messages: Sequence[dict[str, Any]], delay_seconds: int = 0) -> list[int]:
        self.messages.extend(json.loads(json.dumps(m, default=str)) for m in messages)
        self.delays.extend([delay_seconds] * len(messages))
        return []


class MemoryDecisionSink:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        self.rows.extend(rows)

    def read(self) -> Iterable[dict[str, Any]]:
        return iter(self.rows)


class MemorySms:
    def __init__(self, fail_with: DeliveryError | None = None):
        self.sent: list[tuple[str, str]] = []
        self.fail_with = fail_with

    def send_sms(self, msisdn: str, text: str, sender_id: str | None = None) -> str:
        if self.fail_with:
            raise self.fail_with
        self.sent.append((msisdn, text))
        return f"sms-{len(self.sent)}"


class MemoryEmail:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_email(self, to: str, subject: str, text: str, html: str | None,
                   headers: dict[str, str] | None = None) -> str:
        self.sent.append({"to": to, "subject": subject, "text": text, "html": html, "headers": dict(headers or {})})
        return f"email-{len(self.sent)}"


class MemoryPush:
    def __init__(self, fail_with: DeliveryError | None = None):
        self.sent: list[tuple[str, Push]] = []
        self.fail_with = fail_with

    def send_push(self, target: str, message: Push) -> str:
        if self.fail_with:
            raise self.fail_with
        self.sent.append((target, message))
        return f"push-{len(self.sent)}"


class MemorySendPacer:
    def __init__(self) -> None:
        self.taken: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def take(self, key: str, limit: int, window: int) -> bool:
        with self._lock:
            if self.taken.get((key, window), 0) >= limit:
                return False
            self.taken[(key, window)] = self.taken.get((key, window), 0) + 1
            return True


class MemoryPolicyStore:
    def __init__(self, document: dict[str, Any] | None = None):
        self.document, self.version = document, 0 if document is None else 1

    def get_policy(self) -> dict[str, Any] | None:
        return self.document

    def put_policy(self, document: dict[str, Any], by: str) -> int:
        self.document, self.version = document, self.version + 1
        return self.version


def memory_once() -> Callable[[dict[str, Any], Callable[[dict[str, Any]], dict[str, Any]]], dict[str, Any]]:
    results: dict[tuple[str, str], dict[str, Any]] = {}
    lock = threading.Lock()

    def once(payload: dict[str, Any], work: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
        key = (payload["customer_id"], payload["event_id"])
        with lock:
            if key in results:
                return results[key]
        result = json.loads(json.dumps(work(payload), default=str))
        with lock:
            return results.setdefault(key, result)

    return once
