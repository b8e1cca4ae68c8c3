"""`marketing local status` against a stack on moto: its queues' depths (and only queues are read as
queues: the approval link's URL is a web address), the other resources by name, the pipeline's state."""
from __future__ import annotations

import re
import time

import pytest
from typer.testing import CliRunner

import marketing_tools.cli.local
import marketing_tools.cli.target
from marketing_tools.cli.main import app
from marketing_tools.cli.target import Target
from marketing_tools.emulator.status import StatusRecorder
from tests.integration.world import World


@pytest.fixture
def stack(world: World, monkeypatch, tmp_path) -> World:
    env = {**world.env, "APPROVAL_LINK_URL": "http://127.0.0.1:4566/restapis/abc/v1/_user_request_/approval"}
    monkeypatch.setattr(marketing_tools.cli.target, "resolve_target", lambda name: Target(env, None, "local"))
    monkeypatch.setattr(marketing_tools.cli.local, "STATE_DIR", tmp_path)
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
