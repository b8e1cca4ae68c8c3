"""`marketing campaign validate FILE` (SPEC 4.6): exit 0 when valid; otherwise exit 1 with every
error printed next to its path in the file.
"""
from __future__ import annotations

import re

from typer.testing import CliRunner

from marketing_tools.cli.main import app
from marketing_tools.project import project_path

INVALID = project_path("events", "campaigns", "invalid", "three-mistakes.yaml")


def validate(path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["campaign", "validate", str(path)], env={"COLUMNS": "200"})
    output = result.stdout + (result.stderr or "")
    return result.exit_code, re.sub(r"\s+", " ", output)  # rich may wrap long lines


def test_an_invalid_campaign_exits_1_and_prints_all_three_errors_with_their_paths():
    code, output = validate(INVALID)

    assert code == 1, output
    assert "3 error(s)" in output
    assert re.search(r"limits\.cooldown: .*30 days", output), output
    assert re.search(r"trigger\.event: unknown event type 'location\.enter_airport'", output), output
    assert re.search(r"audience\.any\[1\]\.tags\.intl_calls_90d: .*gtee", output), output


def test_a_valid_sample_campaign_exits_0():
    code, output = validate(project_path("events", "campaigns", "airport-intl-roaming.yaml"))

    assert code == 0, output
    assert "airport-intl-roaming" in output and "valid" in output


def a_definition(tmp_path, audience: dict) -> str:
    import yaml

    definition = yaml.safe_load(project_path("events", "campaigns", "airport-intl-roaming.yaml").read_text(encoding="utf-8"))
    definition["audience"] = audience
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(definition, allow_unicode=True), encoding="utf-8")
    return path


def test_an_unknown_tag_exits_1_naming_it_and_suggesting_the_dictionary_tag(tmp_path):
    code, output = validate(a_definition(tmp_path, {"status": "active", "tags.roaming_pak": {"ne": True}}))

    assert code == 1, output
    assert re.search(r"audience\.tags\.roaming_pak: unknown tag 'tags\.roaming_pak'.*did you mean 'tags\.roaming_pack'",
                     output), output


def test_a_test_that_does_not_fit_the_tags_type_exits_1(tmp_path):
    code, output = validate(a_definition(tmp_path, {"tags.roaming_pack": {"gte": 3}, "tags.intl_calls_90d": "many",
                                                    "tags.interests": {"contains": "travel"},
                                                    "tags.last_recharge_at": {"within": "30d"}}))

    assert code == 1, output
    assert "2 error(s)" in output
    assert re.search(r"audience\.tags\.roaming_pack\.gte: 'gte' does not apply to tags\.roaming_pack, a boolean tag", output)
    assert re.search(r"audience\.tags\.intl_calls_90d: tags\.intl_calls_90d is an integer tag", output), output


def test_yaml_nested_10000_deep_exits_1_with_a_clear_error(tmp_path):
    deep = tmp_path / "deep.yaml"
    deep.write_text("id: deep\naudience:\n  any: " + "[" * 10_000 + "]" * 10_000 + "\n", encoding="utf-8")
    nested = tmp_path / "nested.yaml"   # deep enough for the checks, not for the YAML parser
    nested.write_text("id: nested\naudience:\n  any: " + "[" * 200 + "]" * 200 + "\n", encoding="utf-8")

    for path in (deep, nested):
        code, output = validate(path)
        assert code == 1, output
        assert "nests lists and maps more than 64 deep" in output, output
        assert "Traceback" not in output and "RecursionError" not in output
