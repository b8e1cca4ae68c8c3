"""The tariff advisor (SPEC 4.8) against three customers worked by hand on the shipped plans."""
from __future__ import annotations

from datetime import date

import pytest

from marketing.data import PLANS, packaged
from marketing.domain.models import Profile
from marketing.domain.tariff import PlanCatalog, advise, last_full_months

PLANS_SHIPPED = PlanCatalog.from_file(packaged(PLANS))
TODAY = date(2026, 12, 7)           # the last three full months: 2026-09, 2026-10, 2026-11


def customer(plan: str, months: list[tuple[float, float, float]], **tags) -> Profile:
    usage = {m: {"voice_min": v, "data_gb": d, "sms": s} for m, (v, d, s) in zip(last_full_months(TODAY), months)}
    return Profile(customer_id="c1", tags={"plan": plan, "is_5g_device": False, **tags}, usage=usage)


def test_the_last_three_full_months_are_the_calendar_months_before_this_one():
    assert last_full_months(date(2026, 12, 7)) == ["2026-09", "2026-10", "2026-11"]
    assert last_full_months(date(2027, 2, 1)) == ["2026-11", "2026-12", "2027-01"]


def test_a_customer_paying_overage_is_told_the_plan_that_covers_it():
    # on 4G-58 (58; 300 min, 10 GB, 100 SMS; 0.15/min, 5.00/GB):
    #   Sep 420 min, 14.2 GB: 58 + 120 × 0.15 + 4.2 × 5 = 97.00;  Oct 380, 12.0: 58 + 12 + 10 = 80.00
    #   Nov 450 min, 16.0 GB: 58 + 22.5 + 30 = 110.50  → mean 95.83
    # on 4G-88 (500 min, 30 GB) no overage: 88.00 → saving 7.83
    advice = advise(customer("4G-58", [(420, 14.2, 30), (380, 12.0, 20), (450, 16.0, 40)]), PLANS_SHIPPED, TODAY)
    assert (advice.best_plan, advice.monthly_saving) == ("4G-88", 7.83)
    assert advice.costs["4G-58"] == 95.83 and advice.costs["4G-88"] == 88.0
    assert advice.months == ("2026-09", "2026-10", "2026-11")


def test_a_customer_on_too_big_a_plan_is_told_to_move_down():
    # on 4G-128 using 150 min, 3 GB, 10 SMS: 4G-38 costs 38 + 50 × 0.19 = 47.50 → saving 128 − 47.50 = 80.50
    advice = advise(customer("4G-128", [(150, 3.0, 10)] * 3), PLANS_SHIPPED, TODAY)
    assert (advice.best_plan, advice.monthly_saving) == ("4G-38", 80.5)


def test_a_customer_already_on_the_best_plan_gets_no_advice():
    # 250 min, 8 GB on 4G-58: 58.00; 4G-38 would be 38 + 150 × 0.19 + 3 × 5 = 81.50
    advice = advise(customer("4G-58", [(250, 8.0, 50)] * 3), PLANS_SHIPPED, TODAY)
    assert advice.best_plan is None and advice.monthly_saving is None
    assert advice.costs["4G-38"] == 81.5 and advice.reason == "already on the best plan"
    assert advice.to_json() == {"customer_id": "c1", "current_plan": "4G-58", "best_plan": None,
                                "monthly_saving": None, "months": ["2026-09", "2026-10", "2026-11"]}


def test_5g_plans_are_offered_only_to_customers_with_a_5g_handset():
    heavy = [(1800, 180.0, 100)] * 3           # 4G-128: 128 + 800 × 0.12 + 120 × 3 = 584; 5G-299: 299
    assert advise(customer("4G-128", heavy), PLANS_SHIPPED, TODAY).best_plan not in ("5G-299", "5G-199", "5G-399")
    with_5g = advise(customer("4G-128", heavy, is_5g_device=True), PLANS_SHIPPED, TODAY)
    assert (with_5g.best_plan, with_5g.monthly_saving) == ("5G-299", 285.0)


def test_a_tie_goes_to_fewer_months_with_overage():
    base = PLANS_SHIPPED.plans["4G-58"]
    roomy = base.included.model_copy(update={"voice_min": 1000.0})
    plans = PlanCatalog({p.name: p for p in (
        base.model_copy(update={"name": "A", "monthly_fee": 70.0, "included": roomy}),   # 70 every month
        base.model_copy(update={"name": "B"}),                                          # 58, 300 min, 0.15/min
        base.model_copy(update={"name": "now", "monthly_fee": 100.0, "included": roomy}))})
    months = [(300 + 240, 10, 0), (300, 10, 0), (300, 10, 0)]           # B: (58 + 36 + 58 + 58) / 3 = 70
    advice = advise(customer("now", months), plans, TODAY)
    assert advice.costs["A"] == advice.costs["B"] == 70.0
    assert advice.best_plan == "A"                                      # no month with overage


def test_no_usage_means_no_advice_and_a_bad_usage_month_is_refused():
    assert advise(Profile(customer_id="c1", tags={"plan": "4G-58"}), PLANS_SHIPPED, TODAY).reason.startswith("no usage")
    with pytest.raises(ValueError, match="YYYY-MM"):
        Profile(customer_id="c1", usage={"November": {"voice_min": 1}})
