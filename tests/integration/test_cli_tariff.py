"""`marketing tariff advise ID --json` on profiles imported with three months of usage: exactly SPEC 4.8's
best plan and saving against the shipped plans, re-computed here from the plans file by the formula."""
from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal

import pytest
import yaml
from typer.testing import CliRunner

import marketing_tools.cli.target
from marketing.data import PLANS, packaged
from marketing_tools.cli.main import app
from marketing_tools.cli.target import Target
from marketing_tools.emulator.offer_api import LocalOfferApi
from tests.integration.world import World, a_profile

MONTHS = ["2026-09", "2026-10", "2026-11"]


def by_the_formula(plan_name: str, usage: dict, tags: dict) -> tuple[str | None, float | None]:
    """SPEC 4.8 written out again, straight from the YAML: mean cost, ties, saving in cents."""
    plans = yaml.safe_load(packaged(PLANS).read_text())["plans"]

    def cost(plan: dict, month: dict) -> Decimal:
        return Decimal(str(plan["monthly_fee"])) + sum(
            (max(Decimal(0), Decimal(str(month[m])) - Decimal(str(plan["included"][m]))) * Decimal(str(plan["overage"][m])))
            for m in ("voice_min", "data_gb", "sms"))

    def mean(plan: dict) -> Decimal:
        return sum((cost(plan, usage[m]) for m in MONTHS), Decimal(0)) / 3

    eligible = {n: p for n, p in plans.items()
                if n == plan_name or all(tags.get(k) == v for k, v in (p.get("requires") or {}).items())}
    best = min(eligible, key=lambda n: (mean(eligible[n]), sum(any(usage[m][k] > eligible[n]["included"][k]
                                                                   for k in usage[m]) for m in MONTHS),
                                        eligible[n]["monthly_fee"], n))
    saving = (mean(plans[plan_name]) - mean(plans[best])).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return (None, None) if best == plan_name or saving <= 0 else (best, float(saving))


CUSTOMERS = {
    "8613800000101": ("4G-58", {"2026-09": (420, 14.2, 30), "2026-10": (380, 12.0, 20), "2026-11": (450, 16.0, 40)}, False),
    "8613800000102": ("4G-128", {m: (150, 3.0, 10) for m in MONTHS}, False),
    "8613800000103": ("4G-58", {m: (250, 8.0, 50) for m in MONTHS}, False),
    "8613800000104": ("4G-128", {m: (1800, 180.0, 100) for m in MONTHS}, True),
}


@pytest.fixture
def stack(world: World, monkeypatch) -> World:
    monkeypatch.setattr(marketing_tools.cli.target, "resolve_target", lambda name: Target(world.env, None, "local"))
    return world


def test_the_advice_is_exactly_the_formula_on_the_shipped_plans(stack, tmp_path):
    lines = []
    for customer, (plan, months, has_5g) in CUSTOMERS.items():
        profile = a_profile(customer, plan=plan, is_5g_device=has_5g)
        profile["usage"] = {m: {"voice_min": v, "data_gb": d, "sms": s} for m, (v, d, s) in months.items()}
        lines.append(json.dumps(profile, ensure_ascii=False))
    path = tmp_path / "profiles.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert CliRunner().invoke(app, ["profiles", "import", str(path)]).exit_code == 0

    for customer, (plan, months, has_5g) in CUSTOMERS.items():
        result = CliRunner().invoke(app, ["tariff", "advise", customer, "--json", "--on", "2026-12-07"])
        assert result.exit_code == 0, result.output
        advice = json.loads(result.stdout)
        usage = {m: {"voice_min": v, "data_gb": d, "sms": s} for m, (v, d, s) in months.items()}
        expected = by_the_formula(plan, usage, {"is_5g_device": has_5g})
        assert (advice["best_plan"], advice["monthly_saving"]) == expected, customer
        assert advice == {"customer_id": customer, "current_plan": plan, "best_plan": expected[0],
                          "monthly_saving": expected[1], "months": MONTHS}
        # the care/store desktop route agrees with the CLI, today
        status, body = LocalOfferApi(stack.env).call("GET", f"/customers/{customer}/tariff-advice")
        today = json.loads(CliRunner().invoke(app, ["tariff", "advise", customer, "--json"]).stdout)
        assert status == 200 and body == today and body["current_plan"] == plan
    # the hand-worked figures (tests/unit/test_tariff.py) are what the formula gives
    assert by_the_formula("4G-58", {m: {"voice_min": v, "data_gb": d, "sms": s}
                                    for m, (v, d, s) in CUSTOMERS["8613800000101"][1].items()}, {}) == ("4G-88", 7.83)


def test_an_unknown_customer_is_exit_1_and_a_404(stack):
    result = CliRunner().invoke(app, ["tariff", "advise", "8613899999999"])
    assert result.exit_code == 1 and "no profile" in result.stderr
    assert LocalOfferApi(stack.env).call("GET", "/customers/8613899999999/tariff-advice")[0] == 404
