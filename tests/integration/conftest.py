"""Integration fixtures: fake credentials, in-process moto, a fresh stack per test.

A fresh stack costs well under a second and keeps every test's SMS, counters and idempotency
records its own. The handlers' cold start writes os.environ; it is restored after each test.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import boto3
import pytest
import yaml
from moto import mock_aws

from marketing_tools.emulator.moto_fixes import _parsed_once, _transactions_back_up_what_they_touch
from tests.integration import aws_calls
from tests.integration.world import CATALOG, World


@pytest.fixture(scope="session", autouse=True)
def record_aws_calls():
    """Every AWS call a handler makes, under its function (test_least_privilege reads them)."""
    aws_calls.start()
    yield
    aws_calls.stop()
    aws_calls.save()


@pytest.fixture(scope="session", autouse=True)
def moto_transactions_in_bounded_memory():
    """moto's TransactWriteItems copies whole tables (a 100k-profile import ran out of memory); the
    emulator's fix backs up only what each transaction touches (test_moto_fixes shows the rollback).
    And each expression's text is parsed once, as the emulator does (the fault soak sends thousands)."""
    _transactions_back_up_what_they_touch()
    _parsed_once()


def pytest_collection_modifyitems(items):
    # the least-privilege check reads what every other integration test called: it runs last
    items.sort(key=lambda item: item.module.__name__.endswith("test_least_privilege"))


@pytest.fixture
def aws():
    saved = os.environ.copy()
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "MARKETING_STACK"):
        os.environ.pop(name, None)
    os.environ.update({"AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
                       "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "CONTACT_POLICY_PATH": str(Path(__file__).with_name("open_policy.yaml"))})
    try:
        with mock_aws():
            boto3.setup_default_session(region_name="us-east-1")
            yield
    finally:
        boto3.DEFAULT_SESSION = None  # drops any event hooks a test registered
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def world(aws) -> World:
    return World()


def pytest_configure(config):
    # Powertools says so on every invocation when metrics are disabled, as they are locally
    config.addinivalue_line("filterwarnings", "ignore:No application metrics to publish:UserWarning")


@pytest.fixture
def flows(aws, monkeypatch):
    """A fresh stack whose state machines execute, calling the real handlers; evaluation right after activation."""
    from marketing_tools.lifecycle_client import LifecycleClient
    from marketing_tools.emulator import state_machines

    monkeypatch.setenv("EVALUATION_DELAY_SECONDS", "0")
    monkeypatch.setenv("APPROVAL_BUDGET_THRESHOLD", "1000")
    monkeypatch.setenv("CAMPAIGN_CACHE_SECONDS", "0")
    state_machines.enable_execution()
    world = World()
    state_machines.forget_handlers()
    state_machines.run_real_handlers(world.env)
    desk = LifecycleClient(world.env, world.client, CATALOG)
    yield world, desk
    _let_evaluations_finish(desk)
    state_machines.forget_handlers()


def _let_evaluations_finish(desk, timeout_s: float = 30) -> None:
    """An approval activates its campaign and starts its evaluation at once (delay 0 here). Left
    running when mock_aws ends, the evaluation's calls would go to real endpoints and be retried,
    drawing retry jitter from `random` while a later test's hypothesis draws its data."""
    deadline = time.monotonic() + timeout_s
    for execution in desk.executions_of("EVALUATION_STATE_MACHINE_ARN"):
        if execution["status"] == "RUNNING":
            desk.wait(execution["executionArn"], timeout_s=max(0.1, deadline - time.monotonic()))


@pytest.fixture
def policy(tmp_path):
    """Write a contact policy file for this test (the handlers read it at cold start); unset fields
    are permissive."""
    def write(**fields):
        fields.setdefault("caps", {})
        fields.setdefault("quiet_hours", None)
        fields.setdefault("complaint_suppression_days", 0)
        path = tmp_path / "policy.yaml"
        path.write_text(yaml.safe_dump(fields))
        os.environ["CONTACT_POLICY_PATH"] = str(path)
    return write


@pytest.fixture
def stack(world: World, monkeypatch, tmp_path) -> World:
    """The world's stack as the `marketing` command's target (tests/integration/cli.py runs it); the
    working directory (and its .marketing/) is tmp_path."""
    import marketing_tools.cli.target
    from marketing_tools.cli.target import Target

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MARKETING_STATE_DIR", str(tmp_path / ".marketing"))
    monkeypatch.setattr(marketing_tools.cli.target, "resolve_target", lambda name: Target(world.env, None, "local"))
    return world
