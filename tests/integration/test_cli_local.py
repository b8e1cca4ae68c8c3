"""`marketing local status` against a stack on moto: its queues' depths (and only queues are read as
queues: the approval link's URL is a web address), the other resources by name, the pipeline's state."""
from __future__ import annotations

import json
import re
import time

import pytest
from typer.testing import CliRunner

import marketing_tools.cli.target
from marketing_tools.cli.main import app
from marketing_tools.cli.target import Target
from marketing_tools.emulator.status import StatusRecorder
from tests.integration.world import World


@pytest.fixture
def stack(world: World, monkeypatch, tmp_path) -> World:
    env = {**world.env, "APPROVAL_LINK_URL": "http://127.0.0.1:4566/restapis/abc/v1/_user_request_/approval"}
    monkeypatch.setattr(marketing_tools.cli.target, "resolve_target", lambda name: Target(env, None, "local"))
    monkeypatch.setenv("MARKETING_STATE_DIR", str(tmp_path))
    return world


def status() -> tuple[int, str]:
    result = CliRunner().invoke(app, ["local", "status"], env={"COLUMNS": "200"})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, re.sub(r"\s+", " ", re.sub(r"[│┃]", " ", result.stdout))


def test_status_shows_each_queues_depth_and_the_approval_link_as_an_address(stack, tmp_path):
    sqs = stack.client("sqs")
    for body in ("one", "two"):
        sqs.send_message(QueueUrl=stack.env["EVENTS_DLQ_URL"], MessageBody=body)
    sqs.send_message(QueueUrl=stack.env["DELIVERY_QUEUE_URL"], MessageBody="later", DelaySeconds=600)

    code, out = status()

    assert code == 0
    assert "marketing-events-dlq: 2 waiting, 0 in flight, 0 delayed" in out
    assert "marketing-delivery: 0 waiting, 0 in flight, 1 delayed" in out
    assert "APPROVAL_LINK_URL http://127.0.0.1:4566/restapis/abc/v1/_user_request_/approval" in out
    assert stack.env["PROFILES_TABLE"] in out
    assert "pipeline: not running" in out


def test_status_tells_a_working_pipeline_from_an_idle_one(stack, tmp_path):
    recorder = StatusRecorder(tmp_path / "status.json")
    now = time.time()
    recorder.record(now, moved=3)
    assert "pipeline: working" in status()[1]
    recorder.record(now + 0.1, moved=0)
    assert "pipeline: idle for" in status()[1]


def test_every_command_finds_the_local_stack_from_any_directory_of_the_project(monkeypatch, tmp_path):
    project = tmp_path / "project"
    (project / "functions").mkdir(parents=True)
    (project / "cdk.json").write_text("{}")
    (project / ".marketing").mkdir()
    (project / ".marketing" / "local.json").write_text(json.dumps({"endpoint": "http://127.0.0.1:9", "env": {}}))
    deep = project / "events" / "samples"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    monkeypatch.delenv("MARKETING_STATE_DIR", raising=False)
    monkeypatch.delenv("MARKETING_PROJECT_DIR", raising=False)

    assert marketing_tools.cli.target.state_dir() == project / ".marketing"
    result = CliRunner().invoke(app, ["decisions"], env={"COLUMNS": "200"})
    # it found the state two levels up: the stack it names is down, not "no local stack is running"
    assert result.exit_code == 3 and "127.0.0.1:9 is unreachable" in result.stderr
