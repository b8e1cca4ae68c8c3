"""The scenario library: every template in events/templates/ writes a campaign that validates, the --set
values reach it, and a value or a parameter that does not fit is an error naming it (exit 1)."""
from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from marketing.domain.campaigns import load_campaign_file
from marketing_tools.cli.main import app
from marketing_tools.cli.target import catalog
from marketing_tools.templates import available


def new(*args: str):
    return CliRunner().invoke(app, ["campaign", "new", *args], env={"COLUMNS": "200"})


@pytest.mark.parametrize("template", available())
def test_every_template_writes_a_campaign_that_validates(template, tmp_path):
    out = tmp_path / f"{template}.yaml"
    result = new(template, "--set", f"id=my-{template}", "-o", str(out))
    assert result.exit_code == 0, result.output
    loaded = load_campaign_file(out, catalog())
    assert loaded.ok and loaded.campaign.id == f"my-{template}"
    assert CliRunner().invoke(app, ["campaign", "validate", str(out)]).exit_code == 0


def test_set_values_reach_the_campaign(tmp_path):
    out = tmp_path / "c.yaml"
    assert new("airport-roaming", "--set", "price=25", "--set", "areas=[CAN_T2_INTL_DEPARTURE]",
               "--set", "reply_code=R9", "-o", str(out)).exit_code == 0
    campaign = yaml.safe_load(out.read_text())
    assert campaign["offer"] == {"code": "ROAM_7D", "reply_code": "R9", "value": 25}
    assert campaign["trigger"]["where"] == {"area_id": {"in": ["CAN_T2_INTL_DEPARTURE"]}}
    assert "回复R9" in campaign["channels"][0]["sms"]["text"]


def test_an_unknown_parameter_or_an_invalid_value_is_refused():
    unknown = new("welcome", "--set", "prize=5")
    assert unknown.exit_code == 1 and "no parameter prize" in unknown.stderr
    invalid = new("welcome", "--set", "id=Not Valid!", "--set", "max_tenure_months=-1")
    assert invalid.exit_code == 1 and "not a valid campaign" in invalid.stderr
    assert new("no-such-template").exit_code == 1


def test_without_a_template_the_library_is_listed():
    listed = new()
    assert listed.exit_code == 0 and all(name in listed.output for name in available())
