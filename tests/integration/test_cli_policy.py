"""`marketing policy push FILE` / `show` against moto: a valid policy is stored and shown; an invalid
one is refused with its errors (exit 1) and nothing is stored."""
from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

import marketing_tools.cli.target
from marketing.adapters.aws import DynamoPolicyStore
from marketing_tools.cli.main import app
from marketing_tools.cli.target import Target
from tests.integration.world import World


@pytest.fixture
def stack(world: World, monkeypatch, tmp_path) -> World:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(marketing_tools.cli.target, "resolve_target", lambda name: Target(world.env, None, "local"))
    return world


def run(*args: str):
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr or ""


def test_push_then_show(stack, tmp_path):
    code, out, _ = run("policy", "show")
    assert code == 0 and "file shipped with the functions is in force" in out
    path = tmp_path / "strict.yaml"
    path.write_text(yaml.safe_dump({"caps": {"all": {"day": 1}}, "send_rates": {"sms": {"long_code": 1}}}))

    code, out, _ = run("policy", "push", str(path), "--by", "ops")
    assert code == 0 and "version 1" in out
    stored = DynamoPolicyStore(stack.client("dynamodb"), stack.env["SETTINGS_TABLE"]).get_policy()
    assert stored["caps"]["all"]["day"] == 1 and stored["send_rates"] == {"sms": {"long_code": 1.0}}

    code, out, _ = run("policy", "show")
    assert code == 0 and "# version 1 by ops" in out and "long_code: 1.0" in out


def test_an_invalid_policy_is_refused_with_its_errors(stack, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"caps": {"fax": {"day": 1}}, "send_rates": {"sms": -1}}))

    code, _, err = run("policy", "push", str(path))

    assert code == 1
    assert "caps" in err and "fax" in err and "send_rates.sms" in err
    assert DynamoPolicyStore(stack.client("dynamodb"), stack.env["SETTINGS_TABLE"]).get_policy() is None
