"""The campaign lifecycle on moto's Step Functions with the real task Lambdas (run in-process):
approve, reject, self-approval refused, a second approver over the budget threshold, timeout,
and a campaign the workflow activates being matched by the running decision path."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from marketing import resources as r
from marketing_tools.emulator import state_machines
from marketing.state_machines import Timings
from tests.integration.world import a_campaign, a_profile, an_event

OTHER_AREA = "SHA_PVG"


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



def test_reject_path_ends_rejected_and_nothing_goes_live(flows):
    world, desk = flows
    submission = desk.submit(a_campaign("roam-r"), by="ann")
    assert desk.wait_for_status("roam-r", "pending_approval") == "pending_approval"

    assert not desk.reject("roam-r", by="bob", comment="").accepted          # a rejection needs a reason
    result = desk.reject("roam-r", by="bob", comment="wrong audience")
    assert result.accepted and result.status == "rejected"
    execution = desk.wait(submission.execution_arn)
    assert execution["status"] == "SUCCEEDED"
    assert world.campaigns.get_campaign("roam-r") is None
    assert desk.executions_of(r.EVALUATION.env) == []
    item, trail = desk.status("roam-r")
    assert item["status"] == "rejected"
    assert (trail[-1]["action"], trail[-1]["by"], trail[-1]["comment"]) == ("rejected", "bob", "wrong audience")
    assert not desk.approve("roam-r", by="carol").accepted                 # too late: decided


def test_the_submitter_may_not_approve_and_the_request_stays_pending(flows):
    world, desk = flows
    submission = desk.submit(a_campaign("roam-s"), by="ann")
    assert desk.wait_for_status("roam-s", "pending_approval") == "pending_approval"

    refused = desk.approve("roam-s", by="ann")
    assert not refused.accepted and "submitter" in refused.message
    assert desk.execution(submission.execution_arn)["status"] == "RUNNING"
    item, trail = desk.status("roam-s")
    assert item["status"] == "pending_approval" and item["approvers"] == []
    assert (trail[-1]["action"], trail[-1]["by"]) == ("refused", "ann")
    assert world.campaigns.get_campaign("roam-s") is None

    assert desk.approve("roam-s", by="bob").accepted                       # the token was still waiting
    assert desk.wait(submission.execution_arn)["status"] == "SUCCEEDED"
    assert world.campaigns.get_campaign("roam-s") is not None


def test_over_the_budget_threshold_a_second_distinct_approver_is_needed(flows):
    world, desk = flows
    submission = desk.submit(a_campaign("roam-big", limits={"budget": 5000}), by="ann")   # threshold 1000
    assert desk.wait_for_status("roam-big", "pending_approval") == "pending_approval"

    first = desk.approve("roam-big", by="bob")
    assert first.accepted and first.status == "pending_approval" and first.required == 2
    assert not desk.approve("roam-big", by="bob").accepted                 # the same person twice
    assert desk.execution(submission.execution_arn)["status"] == "RUNNING"
    assert world.campaigns.get_campaign("roam-big") is None

    second = desk.approve("roam-big", by="carol")
    assert second.accepted and second.status == "approved" and second.approvers == ("bob", "carol")
    assert desk.wait(submission.execution_arn)["status"] == "SUCCEEDED"
    assert world.campaigns.get_campaign("roam-big") is not None
    _, trail = desk.status("roam-big")
    assert [(row["by"], row.get("approval")) for row in trail if row["action"] == "approved"] == \
        [("bob", "1 of 2"), ("carol", "2 of 2")]


def test_no_decision_within_the_timeout_rejects(flows):
    world, desk = flows
    state_machines.set_timings(world.client("stepfunctions"), "marketing", world.env, Timings(approval_timeout_s=1))
    submission = desk.submit(a_campaign("roam-t"), by="ann")
    execution = desk.wait(submission.execution_arn, timeout_s=30)
    assert execution["status"] == "SUCCEEDED"
    item, trail = desk.status("roam-t")
    assert item["status"] == "expired"
    assert trail[-1]["action"] == "expired"
    assert world.campaigns.get_campaign("roam-t") is None
    late = desk.approve("roam-t", by="bob")
    assert not late.accepted


def test_an_invalid_campaign_fails_the_execution_with_every_error(flows):
    world, desk = flows
    bad = a_campaign("roam-bad")
    bad["priority"] = 5000
    bad["trigger"]["event"] = "no.such_event"
    submission = desk.submit(bad, by="ann")
    execution = desk.wait(submission.execution_arn)
    assert execution["status"] == "FAILED"
    history = world.client("stepfunctions").get_execution_history(executionArn=submission.execution_arn)["events"]
    failed = next(e for e in history if e["type"] == "ExecutionFailed")["executionFailedEventDetails"]
    assert failed["error"] == "CampaignInvalid"
    assert "priority" in failed["cause"] and "no.such_event" in failed["cause"]
    _, trail = desk.status("roam-bad")
    assert [row["action"] for row in trail] == ["submitted", "invalid"]


def test_the_validate_step_refuses_a_tag_the_dictionary_does_not_have(flows):
    world, desk = flows
    bad = a_campaign("roam-typo", audience={"status": "active", "tags.roaming_pak": {"ne": True}})
    submission = desk.submit(bad, by="ann")
    assert desk.wait(submission.execution_arn)["status"] == "FAILED"
    history = world.client("stepfunctions").get_execution_history(executionArn=submission.execution_arn)["events"]
    failed = next(e for e in history if e["type"] == "ExecutionFailed")["executionFailedEventDetails"]
    assert failed["error"] == "CampaignInvalid"
    assert "tags.roaming_pak" in failed["cause"] and "did you mean 'tags.roaming_pack'" in failed["cause"]


def test_a_campaign_the_workflow_activates_is_matched_by_the_running_decision_path(flows):
    world, desk = flows
    world.add_profiles(a_profile("8613800000001"))
    world.add_campaigns(a_campaign("already-live", area=OTHER_AREA))
    world.start()                                        # the decide handler is warm before activation
    before = an_event(customer="8613800000001")
    world.publish(before)
    world.run()
    assert [d["campaign_id"] for d in world.decisions(before["event_id"])] == []

    submission = desk.submit(a_campaign("roam-live"), by="ann")
    assert desk.wait_for_status("roam-live", "pending_approval") == "pending_approval"
    assert desk.approve("roam-live", by="bob").accepted
    assert desk.wait(submission.execution_arn)["status"] == "SUCCEEDED"

    after = an_event(customer="8613800000001")
    world.publish(after)
    world.run()
    assert world.decision(after, "roam-live")["outcome"] == "sent"
    assert any("7天漫游包" in text for _, text in world.sms())


def test_the_approvers_are_notified_with_the_estimate(flows):
    world, desk = flows
    desk.submit(a_campaign("roam-n"), by="ann")
    assert desk.wait_for_status("roam-n", "pending_approval") == "pending_approval"
    (notice,) = [n for n in approvals_sent() if "roam-n" in n[1]]
    message = notice[1]
    assert "submitted by ann" in message and "Estimate" in message and "marketing campaign approve roam-n" in message


def test_cli_submit_approve_status_report(flows, monkeypatch, tmp_path):
    from typer.testing import CliRunner

    import marketing_tools.cli.target as cli_target
    from marketing_tools.cli.main import app
    from marketing_tools.cli.target import Target
    from marketing_tools.project import project_path

    world, desk = flows
    monkeypatch.setattr(cli_target, "resolve_target", lambda stack: Target(world.env, None, "test"))
    runner = CliRunner()
    sample = project_path("events", "campaigns", "app-login-offer.yaml")
    submitted = runner.invoke(app, ["campaign", "submit", str(sample), "--by", "ann", "--evaluate-after", "0"])
    assert submitted.exit_code == 0, submitted.output
    assert desk.wait_for_status("app-login-offer", "pending_approval") == "pending_approval"
    own = runner.invoke(app, ["campaign", "approve", "app-login-offer", "--by", "ann"])
    assert own.exit_code == 1 and "submitter" in own.output
    first = runner.invoke(app, ["campaign", "approve", "app-login-offer", "--by", "bob"])   # budget 200000 > 1000
    assert first.exit_code == 0 and "1 of 2" in first.output
    second = runner.invoke(app, ["campaign", "approve", "app-login-offer", "--by", "carol", "--comment", "ok"])
    assert second.exit_code == 0, second.output
    assert desk.wait_for_status("app-login-offer", "evaluated") == "evaluated"
    status = runner.invoke(app, ["campaign", "status", "app-login-offer"], env={"COLUMNS": "80"})
    assert status.exit_code == 0 and "evaluated" in status.output and "carol" in status.output
    assert "…" not in status.output, "at 80 columns the trail folds, it never cuts"
    as_json = runner.invoke(app, ["campaign", "status", "app-login-offer", "--json"])
    records = [json.loads(line) for line in as_json.output.splitlines()]     # JSON lines, one record each
    assert records[0]["record"] == "request" and records[0]["status"] == "evaluated"
    assert {r["action"] for r in records[1:]} >= {"submitted", "approved"} and records[1]["record"] == "transition"
    out = tmp_path / "r.html"
    report = runner.invoke(app, ["campaign", "report", "app-login-offer", "--out", str(out)])
    assert report.exit_code == 0 and "Success rate" in report.output
    assert "<svg" in out.read_text()
    invalid = runner.invoke(app, ["campaign", "submit", str(project_path("events", "campaigns", "invalid",
                                                                      "three-mistakes.yaml")), "--by", "ann"])
    assert invalid.exit_code == 1
    monkeypatch.setenv("MARKETING_PROJECT_DIR", str(tmp_path))      # the default: reports/<id>/ in the project
    default = runner.invoke(app, ["campaign", "report", "app-login-offer"])
    assert default.exit_code == 0, default.output
    assert "<svg" in (tmp_path / "reports" / "app-login-offer" / "report.html").read_text()
    assert json.loads((tmp_path / "reports" / "app-login-offer" / "report.json").read_text())["headline"]


def _api_event(method: str, path: str, body: str | None = None, query: dict | None = None) -> dict:
    return {"resource": "/{proxy+}", "path": path, "httpMethod": method, "headers": {"content-type":
            "application/x-www-form-urlencoded"}, "multiValueHeaders": {}, "queryStringParameters": query,
            "multiValueQueryStringParameters": None, "pathParameters": {"proxy": path.lstrip("/")},
            "stageVariables": None, "requestContext": {"resourcePath": "/{proxy+}", "httpMethod": method,
                                                       "path": f"/v1{path}", "stage": "v1", "requestId": "r1"},
            "body": body, "isBase64Encoded": False}


def test_the_approval_link_shows_the_estimate_and_takes_the_same_decisions(flows):
    from marketing.adapters.aws_lifecycle import DynamoAuditTrail
    from marketing_tools.emulator.handlers import LocalContext, load_handler

    world, desk = flows
    submission = desk.submit(a_campaign("roam-link"), by="ann")
    assert desk.wait_for_status("roam-link", "pending_approval") == "pending_approval"
    request_id = DynamoAuditTrail(world.client("dynamodb"), world.env["AUDIT_TABLE"]).get_request("roam-link")["request_id"]
    (notice,) = [n for n in approvals_sent() if "roam-link" in n[1]]
    assert f"/approvals/roam-link/{request_id}?action=approve" in notice[1]
    handler = load_handler(r.APPROVAL_LINK, world.env)
    path = f"/approvals/roam-link/{request_id}"

    page = handler(_api_event("GET", path, query={"action": "approve"}), LocalContext("approval-link"))
    assert page["statusCode"] == 200 and "events_replayed" in page["body"] and "<form" in page["body"]
    forged = handler(_api_event("POST", "/approvals/roam-link/not-the-id", "action=approve&by=bob"),
                     LocalContext("approval-link"))
    assert forged["statusCode"] == 404
    peek = handler(_api_event("GET", "/approvals/roam-link/not-the-id"), LocalContext("approval-link"))
    assert peek["statusCode"] == 404 and "ann" not in peek["body"] and "events_replayed" not in peek["body"]
    for body in ('["approve"]', '{"action": "approve", "by": 7}', '{"action": "approve", "by', "[]"):
        malformed = handler(_api_event("POST", path, body), LocalContext("approval-link"))
        assert malformed["statusCode"] == 400, body
    for disguise in ("ANN", "ann%E2%80%8B", "%EF%BD%81nn", "ann%40example.com", "+ann+"):  # case, zero-width, fullwidth
        own = handler(_api_event("POST", path, f"action=approve&by={disguise}"), LocalContext("approval-link"))
        assert own["statusCode"] == 409 and "submitter" in own["body"], disguise
    own = handler(_api_event("POST", path, "action=approve&by=ann"), LocalContext("approval-link"))
    assert own["statusCode"] == 409 and "submitter" in own["body"]
    assert desk.status("roam-link")[0]["approvers"] == []        # nothing approved by any of it
    ok = handler(_api_event("POST", path, "action=approve&by=bob&comment=via+link"), LocalContext("approval-link"))
    assert ok["statusCode"] == 200
    assert desk.wait(submission.execution_arn)["status"] == "SUCCEEDED"
    _, trail = desk.status("roam-link")
    assert ("approved", "bob", "via link") in [(t["action"], t["by"], t.get("comment")) for t in trail]


@pytest.mark.parametrize("name", ["submit-app-login-offer", "submit-airport-intl-roaming"])
def test_the_console_sample_inputs_are_valid_executions(name):
    from marketing.app.approvals import CampaignWorkflow
    from marketing_tools.project import project_path
    from tests.integration.world import CATALOG

    class Trail:
        def append(self, campaign_id, record):
            self.last = (campaign_id, record)

    data = json.loads(project_path("events", "workflows", f"{name}.json").read_text())
    trail = Trail()
    definition = CampaignWorkflow(trail, lambda: datetime.now(timezone.utc), catalog=CATALOG).validate(data)
    assert definition["id"] == data["campaign"]["id"] and trail.last[1]["by"] == data["submitted_by"]
