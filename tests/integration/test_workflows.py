"""The campaign lifecycle on moto's Step Functions with the real task Lambdas (run in-process):
approve, reject, self-approval refused, a second approver over the budget threshold, timeout,
and a campaign the workflow activates being matched by the running decision path."""
from __future__ import annotations

import json

import pytest

from marketing import resources as r
from marketing.desk import CampaignDesk
from marketing.local import workflows
from marketing.workflows import Timings
from world import CATALOG, World, a_campaign, a_profile, an_event

OTHER_AREA = "SHA_PVG"


@pytest.fixture
def flows(aws, monkeypatch):
    """A fresh stack whose state machines execute, calling the real handlers; evaluation right after activation."""
    monkeypatch.setenv("EVALUATION_DELAY_SECONDS", "0")
    monkeypatch.setenv("APPROVAL_BUDGET_THRESHOLD", "1000")
    monkeypatch.setenv("CAMPAIGN_CACHE_SECONDS", "0")
    workflows.enable_execution()
    world = World()
    workflows.forget_handlers()
    workflows.run_real_handlers(world.env)
    desk = CampaignDesk(world.env, world.client, CATALOG)
    yield world, desk
    workflows.forget_handlers()


def approvals_sent() -> list[dict]:
    from moto.sns.models import sns_backends

    backend = sns_backends["123456789012"]["us-east-1"]
    topic = next(t for arn, t in backend.topics.items() if arn.endswith(f"-{r.APPROVALS_TOPIC.logical}"))
    return topic.sent_notifications


def test_approve_path_activates_evaluates_and_reports(flows):
    world, desk = flows
    world.add_profiles(a_profile("8613800000001"))
    world.publish(an_event(customer="8613800000001"))
    submission = desk.submit(a_campaign("roam-a", limits={"budget": 500}), by="ann")
    assert desk.wait_for_status("roam-a", "pending_approval") == "pending_approval"

    result = desk.approve("roam-a", by="bob", comment="looks fine")
    assert result.accepted, result.message
    assert desk.wait(submission.execution_arn)["status"] == "SUCCEEDED"
    assert world.campaigns.get_campaign("roam-a") is not None
    assert [c.id for c in world.campaigns.live_campaigns()] == ["roam-a"]
    assert desk.wait_for_status("roam-a", "evaluated") == "evaluated"

    item, trail = desk.status("roam-a")
    actions = [(row["action"], row["by"]) for row in trail]
    assert actions[:5] == [("submitted", "ann"), ("estimated", "workflow"), ("approval_requested", "workflow"),
                           ("approved", "bob"), ("activated", "workflow")]
    assert ("evaluated", "workflow") in actions
    assert next(row for row in trail if row["action"] == "approved")["comment"] == "looks fine"
    estimate = json.loads(item["estimate"])
    assert estimate["events_replayed"] == 1 and estimate["reach"] == 1 and estimate["sends"] == 1
    report, html = desk.report("roam-a")
    assert report["campaign_id"] == "roam-a" and "<svg" in html

