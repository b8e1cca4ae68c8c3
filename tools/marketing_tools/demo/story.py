"""The campaign's whole story for `marketing demo`: submit → estimate → approval by another user →
(live traffic, wired by the demo) → synthetic conversions with a known true uplift → evaluation.

The conversions come from a seeded model: among the customers the decision path treated (a `sent`
decision) a share base + uplift converts, among the held-out customers a share base; who converts
is drawn at random. The evaluation then measures the lift from the records alone (groups as the
decision records say, conversions attributed by customer); its 95% interval must contain the uplift.
Local only: it drives a stack through the same desk the CLI uses and writes outcome rows where
the evaluation reads them (s3://DECISIONS_BUCKET/outcomes/).
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from marketing import resources as r
from marketing.adapters.aws import S3DecisionLog
from marketing.app.approvals import DecisionResult
from marketing_tools.lifecycle_client import LifecycleClient, Submission
from marketing.domain.decisions import current_records
from marketing.domain.models import Outcome

OUTCOMES_PREFIX = "outcomes/synthetic/"


@dataclass(frozen=True)
class UpliftModel:
    """The synthetic truth: holdout converts at `base_rate`, treated at `base_rate + uplift`."""

    base_rate: float = 0.10
    uplift: float = 0.08
    seed: int = 11

    def __post_init__(self) -> None:
        if not (0 <= self.base_rate <= 1 and 0 <= self.base_rate + self.uplift <= 1):
            raise ValueError("base_rate and base_rate + uplift must be probabilities")


@dataclass(frozen=True)
class Approval:
    submission: Submission
    estimate: dict[str, Any]
    decisions: tuple[DecisionResult, ...]
    status: str


@dataclass(frozen=True)
class Conversions:
    treated: int
    treated_converted: int
    control: int
    control_converted: int


def story_campaign(campaign_id: str = "story-roaming", *, area: str = "PEK_T3", control_group: str = "30%",
                   owner: str = "marketing-owner") -> dict[str, Any]:
    """A campaign live from now for a week, SMS on entering `area`, with a 30% holdout to measure against."""
    now = datetime.now(timezone.utc)
    return {
        "id": campaign_id, "name": "Story: roaming pack at the airport", "priority": 90, "owner": owner,
        "schedule": {"start": (now - timedelta(minutes=5)).isoformat(), "end": (now + timedelta(days=7)).isoformat()},
        "trigger": {"event": "location.enter_area", "where": {"area_id": area}},
        "audience": {"status": "active"},
        "offer": {"code": "ROAM_7D", "reply_code": "Y7", "value": 30.0},
        "channels": [{"sms": {"text": "{name}您好，7天漫游包{offer_value}元，回复{reply_code}开通。"}}],
        "limits": {"per_customer": 1, "budget": 50_000},
        "control_group": control_group,
    }


def story_events(customer_ids: list[str], *, area: str = "PEK_T3", seed: int = 5) -> list[dict[str, Any]]:
    """One SPEC 4.1 `location.enter_area` event per customer (the story campaign's trigger), just now."""
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    return [{"event_id": f"story-{seed}-{i}", "event_type": "location.enter_area", "customer_id": customer,
             "occurred_at": (now - timedelta(seconds=rng.randint(1, 60))).isoformat(), "source": "signalling",
             "touchpoint": "network", "attributes": {"area_id": area}}
            for i, customer in enumerate(customer_ids)]


def submit_and_approve(desk: LifecycleClient, definition: dict[str, Any], *, submitter: str = "marketer",
                       approvers: tuple[str, ...] = ("approver-1", "approver-2"),
                       evaluate_after_seconds: int | None = None, timeout_s: float = 60) -> Approval:
    """Submit, wait for the estimate and the approval request, have the approvers approve (as many as
    the rules require: the submitter never), and wait until the campaign is live."""
    submission = desk.submit(definition, submitter, "story", evaluate_after_seconds)
    desk.wait_for_status(submission.campaign_id, "pending_approval", timeout_s=timeout_s)
    results = []
    for approver in approvers:
        result = desk.approve(submission.campaign_id, approver, "approved in the story")
        results.append(result)   # a refusal (e.g. the submitter's own) leaves the request pending
        if result.accepted and result.status != "pending_approval":
            break
    status = desk.wait_for_status(submission.campaign_id, "live", "evaluated", timeout_s=timeout_s)
    item, _ = desk.status(submission.campaign_id)
    return Approval(submission, json.loads((item or {}).get("estimate") or "{}"), tuple(results), status)


def record_conversions(client: Callable[[str], Any], env: dict[str, str], campaign_id: str,
                       model: UpliftModel = UpliftModel()) -> Conversions:
    """Simulate the model over the customers the decision path treated or held out, and store the
    conversions as outcome rows ({"kind": "conversion", ...}) where the evaluation reads them."""
    s3 = client("s3")
    bucket = env[r.DECISIONS_BUCKET.env]
    rows = [row for row in S3DecisionLog(s3, bucket).read() if row.get("campaign_id") == campaign_id]
    group: dict[str, str] = {}
    for row in current_records(rows).values():
        if row["outcome"] == Outcome.SENT:
            group[row["customer_id"]] = "treated"
        elif row["outcome"] == Outcome.HOLDOUT:
            group.setdefault(row["customer_id"], "control")
    # exactly round(rate × n) converters per group, drawn at random: the population's true uplift is the
    # model's (not a Bernoulli draw of it), so the evaluation must recover it within its interval
    rng = random.Random(model.seed)
    at = datetime.now(timezone.utc).isoformat()
    out, counts = [], {"treated": [0, 0], "control": [0, 0]}
    for g in ("treated", "control"):
        members = sorted(c for c, member_of in group.items() if member_of == g)
        rate = model.base_rate + (model.uplift if g == "treated" else 0.0)
        converters = rng.sample(members, round(rate * len(members)))
        counts[g] = [len(members), len(converters)]
        out += [{"kind": "conversion", "campaign_id": campaign_id, "customer_id": customer, "at": at,
                 "group": g, "source": "synthetic"} for customer in sorted(converters)]
    if out:
        s3.put_object(Bucket=bucket, Key=f"{OUTCOMES_PREFIX}{campaign_id}.jsonl",
                      Body="\n".join(json.dumps(row) for row in out).encode())
    return Conversions(counts["treated"][0], counts["treated"][1], counts["control"][0], counts["control"][1])


def evaluate_now(desk: LifecycleClient, campaign_id: str, timeout_s: float = 120) -> dict[str, Any]:
    """Start the evaluation state machine for the campaign (as the approval workflow does at the
    schedule's end) and return the report JSON it writes."""
    execution = desk.wait(desk.evaluate(campaign_id), timeout_s=timeout_s)
    if execution["status"] != "SUCCEEDED":
        raise RuntimeError(f"evaluation of {campaign_id} ended {execution['status']}")
    report, _ = desk.report(campaign_id)
    assert report is not None
    return report


def interval_contains_truth(report: dict[str, Any], model: UpliftModel) -> bool:
    low, high = report["lift"]["absolute_ci"] or (None, None)
    return low is not None and low <= model.uplift <= high


# --- the story as `marketing demo` tells it ------------------------------------------------------

STORY_PREFIX = "86137"        # the story's customers, apart from the demo's main population (86138…)
DAYTIME_ZONES = ("Asia/Shanghai", "Asia/Dubai", "Europe/London", "America/New_York", "America/Los_Angeles",
                 "Pacific/Auckland")


def daytime_zone(now: datetime | None = None) -> str:
    """A timezone where it is mid-day now. The story's customers live there so that its contacts go
    out during the demo rather than after quiet hours end (the main traffic shows quiet hours at work)."""
    now = now or datetime.now(timezone.utc)
    from zoneinfo import ZoneInfo

    return min(DAYTIME_ZONES, key=lambda zone: abs(now.astimezone(ZoneInfo(zone)).hour + 0.5 - 14))


def story_profiles(n: int, *, seed: int = 3, zone: str | None = None) -> list[dict[str, Any]]:
    """Reachable, consenting customers (SPEC 4.2) for the story campaign: who converts is the model's
    business, who gets contacted is the decision path's."""
    rng = random.Random(seed)
    zone = zone or daytime_zone()
    return [{"customer_id": f"{STORY_PREFIX}{i:08d}", "status": "active", "name": f"旅客{i}",
             "msisdn": f"+{STORY_PREFIX}{i:08d}", "email": f"traveller{i}@example.com", "timezone": zone,
             "locale": "zh-CN", "tags": {"value_tier": rng.choice(["silver", "gold", "platinum"])},
             "consents": {"marketing": True, "sms": True, "email": False, "app_push": False, "dnd": False},
             "channel_preference": ["sms"]} for i in range(n)]


@dataclass
class StoryResult:
    campaign_id: str = "story-roaming"
    customers: int = 0
    submitted_by: str = ""
    refused: list[str] | None = None
    approved_by: list[str] | None = None
    status: str = ""
    estimate: dict[str, Any] | None = None
    conversions: Conversions | None = None
    true_uplift: float = 0.0
    lift: dict[str, Any] | None = None
    headline: str = ""
    contains_truth: bool = False
    report_html: str | None = None


class DemoStory:
    """Two acts around the demo's main traffic: before it, rehearsal traffic (last week's visitors)
    → submit → estimate (replaying it) → a refused self-approval → approval by another user; after it,
    the live visitors through the decision path → seeded conversions → the evaluation state machine."""

    SUBMITTER, APPROVERS = "li.na", ("li.na", "zhang.wei", "chen.jie")

    def __init__(self, desk: LifecycleClient, customers: int = 800, model: UpliftModel = UpliftModel()):
        self.desk, self.model = desk, model
        self.profiles = story_profiles(customers)
        self.ids = [p["customer_id"] for p in self.profiles]
        self.result = StoryResult(customers=customers, submitted_by=self.SUBMITTER, true_uplift=model.uplift)

    def rehearsal_events(self) -> list[dict[str, Any]]:
        return story_events(self.ids, seed=1)

    def submit_and_approve(self) -> StoryResult:
        approval = submit_and_approve(self.desk, story_campaign(self.result.campaign_id), submitter=self.SUBMITTER,
                                      approvers=self.APPROVERS)
        self.result.status, self.result.estimate = approval.status, approval.estimate
        self.result.refused = [self.APPROVERS[i] for i, d in enumerate(approval.decisions) if not d.accepted]
        self.result.approved_by = [self.APPROVERS[i] for i, d in enumerate(approval.decisions) if d.accepted]
        return self.result

    def live_events(self) -> list[dict[str, Any]]:
        return story_events(self.ids, seed=2)

    def evaluate(self, client: Callable[[str], Any], env: dict[str, str]) -> StoryResult:
        self.result.conversions = record_conversions(client, env, self.result.campaign_id, self.model)
        report = evaluate_now(self.desk, self.result.campaign_id)
        self.result.lift = report["lift"]
        self.result.headline = str(report.get("headline", ""))
        self.result.contains_truth = interval_contains_truth(report, self.model)
        _, self.result.report_html = self.desk.report(self.result.campaign_id)
        return self.result
