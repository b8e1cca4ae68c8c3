"""The local stack starts with no campaign live; `marketing samples load` brings the samples in the way a
marketer's campaigns come — submitted, estimated, approved by the named sample approvers (two where the
budget needs it), activated — and `campaign list` / `campaign status` show each with its trail."""
from __future__ import annotations

import glob
import inspect
import json

from typer.testing import CliRunner

import marketing_tools.cli.target as cli_target
from marketing_tools.cli.main import app
from marketing_tools.cli.samples import APPROVERS, SUBMITTER
from marketing_tools.cli.target import Target
from marketing_tools.emulator import serve
from marketing_tools.project import project_path


def test_local_up_puts_no_campaign_live():
    # the background process creates the stack and runs the pipeline; nothing else writes campaigns
    assert "put_campaign" not in inspect.getsource(serve)


def test_samples_load_takes_every_sample_through_approval(flows, monkeypatch):
    world, desk = flows
    monkeypatch.setattr(cli_target, "resolve_target", lambda stack: Target(world.env, None, "local"))
    runner = CliRunner()
    empty = runner.invoke(app, ["campaign", "list", "--json"])
    assert empty.exit_code == 0 and empty.output == ""                   # a fresh stack: no campaign at all

    loaded = runner.invoke(app, ["samples", "load", "--timeout", "60"], env={"COLUMNS": "200"})
    assert loaded.exit_code == 0, loaded.output

    samples = {path.rsplit("/", 1)[-1][:-5] for path in glob.glob(str(project_path("events", "campaigns", "*.yaml")))}
    listed = [json.loads(line) for line in runner.invoke(app, ["campaign", "list", "--json"]).output.splitlines()]
    assert {row["campaign_id"] for row in listed} >= {s for s in samples}  # (ids are the file names)
    for row in listed:
        assert row["state"] == "active" and row["workflow"] in ("live", "evaluated"), row
        assert row["submitter"] == SUBMITTER
        item, trail = desk.status(row["campaign_id"])
        actions = [(t["action"], t.get("by")) for t in trail]
        assert ("submitted", SUBMITTER) in actions and ("approved", APPROVERS[0]) in actions, actions
        if item["required"] == 2:
            assert ("approved", APPROVERS[1]) in actions
        assert "activated" in [a for a, _ in actions]

    again = runner.invoke(app, ["campaign", "submit", str(project_path("events", "campaigns", "idd-pack.yaml")),
                                "--by", "ann", "--evaluate-after", "0"])
    assert again.exit_code == 0 and "is live now" in again.stderr      # a resubmission would replace it


def test_pause_stops_contacts_resume_brings_them_back_stop_evaluates(flows, monkeypatch):
    from tests.integration.world import a_campaign, a_profile, an_event

    world, desk = flows
    monkeypatch.setattr(cli_target, "resolve_target", lambda stack: Target(world.env, None, "local"))
    runner = CliRunner()
    world.add_campaigns(a_campaign("roam-live"))
    world.add_profiles(*(a_profile(f"86138000001{i:02d}") for i in range(3)))

    paused = runner.invoke(app, ["campaign", "pause", "roam-live", "--by", "ann", "--comment", "budget review"])
    assert paused.exit_code == 0, paused.output
    world.publish(an_event(customer="8613800000100"))
    world.run()
    assert world.sms() == [] and world.decisions() == []              # a paused campaign is not even considered

    assert runner.invoke(app, ["campaign", "resume", "roam-live", "--by", "ann"]).exit_code == 0
    world.publish(an_event(customer="8613800000101"))
    world.run()
    assert [number for number, _ in world.sms()] == ["+8613800000101"]

    stopped = runner.invoke(app, ["campaign", "stop", "roam-live", "--by", "bob", "--comment", "complaints"])
    assert stopped.exit_code == 0 and "evaluation has started" in stopped.output
    world.publish(an_event(customer="8613800000102"))
    world.run()
    assert len(world.sms()) == 1                                       # nothing after the stop
    (evaluation,) = desk.executions_of("EVALUATION_STATE_MACHINE_ARN")    # stopping started the evaluation
    assert desk.wait(evaluation["executionArn"])["status"] == "SUCCEEDED"
    again = runner.invoke(app, ["campaign", "resume", "roam-live", "--by", "ann"])
    assert again.exit_code == 1 and "cannot be resumed" in again.stderr
    _, trail = desk.status("roam-live")
    assert [(t["action"], t["by"], t.get("comment")) for t in trail][:3] == [
        ("paused", "ann", "budget review"), ("resumed", "ann", None), ("stopped", "bob", "complaints")]
    assert trail[-1]["action"] == "evaluated"                           # the stop's evaluation reported
