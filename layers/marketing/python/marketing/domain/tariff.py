"""The tariff advisor (SPEC 4.8, seed 003 营销服务一体化): re-rate a customer's last three full months
of usage under every plan they may move to, and say which would have cost less.

A month's cost under a plan is `monthly_fee + Σ max(0, used − included) × overage` over voice
minutes, data (GB) and SMS. The best plan has the lowest mean cost over the months (ties: fewer
months with overage, then the lower fee); the monthly saving is the mean cost under the current plan
(`tags.plan`) minus the best plan's, in cents. No advice when the best plan is the current one or
the saving is not positive. Pure: plans, a profile and today's date in; the advice out.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Mapping

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from marketing.domain.models import Profile

METERS = ("voice_min", "data_gb", "sms")
MONTHS = 3


class Allowance(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    voice_min: float = Field(ge=0)
    data_gb: float = Field(ge=0)
    sms: float = Field(ge=0)


class Plan(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    monthly_fee: float = Field(ge=0)
    included: Allowance
    overage: Allowance                                  # price per unit over the allowance
    requires: dict[str, Any] = Field(default_factory=dict)   # profile tags a customer must have

    def month_cost(self, used: Mapping[str, float]) -> Decimal:
        cost = Decimal(str(self.monthly_fee))
        for meter in METERS:
            over = max(Decimal(0), Decimal(str(used.get(meter, 0))) - Decimal(str(getattr(self.included, meter))))
            cost += over * Decimal(str(getattr(self.overage, meter)))
        return cost

    def has_overage(self, used: Mapping[str, float]) -> bool:
        return any(used.get(meter, 0) > getattr(self.included, meter) for meter in METERS)

    def open_to(self, profile: Profile) -> bool:
        return all(profile.tags.get(tag) == value for tag, value in self.requires.items())


class PlanCatalog:
    def __init__(self, plans: Mapping[str, Plan]):
        self.plans = dict(plans)

    @classmethod
    def from_file(cls, path: str | Path) -> "PlanCatalog":
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        plans, errors = {}, []
        for name, body in (raw.get("plans") or {}).items():
            try:
                plans[name] = Plan.model_validate({"name": name, **(body or {})})
            except ValidationError as error:
                errors += [f"plans.{name}.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()]
        if errors or not plans:
            raise ValueError(f"{path}: " + ("; ".join(errors) or "no plans"))
        return cls(plans)


@dataclass(frozen=True)
class Advice:
    customer_id: str
    current_plan: str | None
    best_plan: str | None                # None: no advice (already the best, no saving, or no usage)
    monthly_saving: float | None
    months: tuple[str, ...]              # the months re-rated, oldest first ("2026-09")
    costs: dict[str, float]              # mean monthly cost under each eligible plan
    reason: str | None = None            # why there is no advice

    def to_json(self) -> dict[str, Any]:
        return {"customer_id": self.customer_id, "current_plan": self.current_plan, "best_plan": self.best_plan,
                "monthly_saving": self.monthly_saving, "months": list(self.months)}


def last_full_months(today: date, n: int = MONTHS) -> list[str]:
    """The `n` calendar months before `today`'s, oldest first (`today` in the customer's timezone)."""
    year, month, out = today.year, today.month, []
    for _ in range(n):
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        out.append(f"{year:04d}-{month:02d}")
    return out[::-1]


def _cents(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def advise(profile: Profile, plans: PlanCatalog, today: date) -> Advice:
    """The advice for one customer on `today` (their local date)."""
    usage = profile.usage
    months = [m for m in last_full_months(today) if m in usage]
    current = profile.tags.get("plan")
    current = current if isinstance(current, str) else None
    if not months:
        return Advice(profile.customer_id, current, None, None, (), {}, "no usage for the last three full months")
    used = [usage[m].model_dump() for m in months]
    candidates = [p for p in plans.plans.values() if p.open_to(profile) or p.name == current]

    def mean(plan: Plan) -> Decimal:
        return sum((plan.month_cost(u) for u in used), Decimal(0)) / len(used)

    ranked = sorted(candidates, key=lambda p: (mean(p), sum(p.has_overage(u) for u in used), p.monthly_fee, p.name))
    costs = {p.name: _cents(mean(p)) for p in ranked}
    best = ranked[0]
    if current not in plans.plans:
        return Advice(profile.customer_id, current, None, None, tuple(months), costs,
                      f"the current plan {current!r} is not in the plan catalog")
    saving = _cents(mean(plans.plans[current]) - mean(best))
    if best.name == current or saving <= 0:
        return Advice(profile.customer_id, current, None, None, tuple(months), costs, "already on the best plan")
    return Advice(profile.customer_id, current, best.name, saving, tuple(months), costs)
