"""Campaign evaluation (SPEC 1, evaluation workflow): treated vs control, lift with its interval, cost.

Plain rows in (decision records, contacts, responses, conversions, unsubscribes), one frozen value out.
Never reads the clock, storage or AWS, and never raises or returns NaN on a degenerate sample:
what cannot be measured is None, with a note saying why.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Any, Iterable

from marketing.domain.decisions import current_records
from marketing.domain.models import Outcome

UNSUBSCRIBE_WINDOW = timedelta(days=7)
DAYS_PER_MONTH = 30.0  # "touches per subscriber per month" is read per 30 days, whatever the calendar
SMALL_SAMPLE = 5  # fewer expected successes (or failures) than this in a group: the normal approximation is rough

# Decision outcomes that mean "the customer matched the audience outside the holdout": the top of the funnel.
_ELIGIBLE = frozenset({Outcome.SENT, Outcome.DEFERRED, Outcome.THROTTLED, Outcome.SUPPRESSED,
                       Outcome.LOST_ARBITRATION, Outcome.FAILED})


# ---------------------------------------------------------------- the two-proportion statistics

def normal_cdf(x: float) -> float:
    """P(Z <= x) for a standard normal Z; erfc keeps precision in the far tails."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def critical_value(confidence: float) -> float:
    """The z with P(|Z| <= z) = confidence (1.959964 for 0.95), by bisection on erfc: math has no inverse."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, not {confidence!r}")
    alpha = 1.0 - confidence
    lo, hi = 0.0, 40.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if math.erfc(mid / math.sqrt(2.0)) > alpha:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-15:
            break
    return (lo + hi) / 2.0


def wilson_interval(successes: int, n: int, z: float) -> tuple[float, float]:
    """The Wilson score interval of one proportion (n > 0)."""
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_interval(successes_t: int, n_t: int, successes_c: int, n_c: int, z: float) -> tuple[float, float]:
    """Newcombe's hybrid score interval of p_t - p_c (method 10, 1998): the two Wilson intervals combined."""
    p_t, p_c = successes_t / n_t, successes_c / n_c
    low_t, high_t = wilson_interval(successes_t, n_t, z)
    low_c, high_c = wilson_interval(successes_c, n_c, z)
    difference = p_t - p_c
    return (max(-1.0, difference - math.sqrt((p_t - low_t) ** 2 + (high_c - p_c) ** 2)),
            min(1.0, difference + math.sqrt((high_t - p_t) ** 2 + (p_c - low_c) ** 2)))


@dataclass(frozen=True, slots=True)
class Lift:
    """Treated vs control success rates and what the difference is worth.

    `absolute` is rate_t - rate_c. Its interval is Newcombe's hybrid score interval (his method 10:
    each group's Wilson score interval, combined), which keeps its coverage at the sizes small
    campaigns have, where the Wald interval under-covers (at 200 treated / 60 control, 8% vs 3%, a
    nominal 95% Wald interval covers 92.9%, this one 96.8%; tests/unit/test_evaluation.py computes
    both exactly and checks every interval against statsmodels). `z` and
    `p_value` are the two-sided two-proportion z-test with the pooled standard error (the null says
    both rates are equal, so one rate is estimated from both groups). `relative` is
    rate_t / rate_c - 1; its interval comes from the delta method on log(rate_t / rate_c), defined
    only when both groups have at least one success. `note` says why a figure is None or rough.
    """

    successes_t: int
    n_t: int
    successes_c: int
    n_c: int
    confidence: float
    rate_t: float | None
    rate_c: float | None
    absolute: float | None
    absolute_ci: tuple[float, float] | None
    relative: float | None
    relative_ci: tuple[float, float] | None
    z: float | None
    p_value: float | None
    note: str | None = None

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < 1.0 - self.confidence

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["significant"] = self.significant
        for key in ("absolute_ci", "relative_ci"):
            out[key] = list(out[key]) if out[key] is not None else None
        return out


def two_proportion(successes_t: int, n_t: int, successes_c: int, n_c: int, confidence: float = 0.95) -> Lift:
    """Compare the success rate of a treated group with a control group's (see `Lift` for the methods)."""
    for label, successes, n in (("treated", successes_t, n_t), ("control", successes_c, n_c)):
        if n < 0 or successes < 0 or successes > n:
            raise ValueError(f"{label}: need 0 <= successes <= n, got {successes} of {n}")
    z_crit = critical_value(confidence)
    rate_t = successes_t / n_t if n_t else None
    rate_c = successes_c / n_c if n_c else None
    base = dict(successes_t=successes_t, n_t=n_t, successes_c=successes_c, n_c=n_c, confidence=confidence,
                rate_t=rate_t, rate_c=rate_c)

    if rate_t is None or rate_c is None:
        empty = " and ".join(g for g, n in (("treated", n_t), ("control", n_c)) if n == 0)
        return Lift(**base, absolute=None, absolute_ci=None, relative=None, relative_ci=None, z=None, p_value=None,
                    note=f"no customers in the {empty} group: lift cannot be measured")

    notes: list[str] = []
    absolute = rate_t - rate_c
    se = math.sqrt(rate_t * (1 - rate_t) / n_t + rate_c * (1 - rate_c) / n_c)
    absolute_ci = newcombe_interval(successes_t, n_t, successes_c, n_c, z_crit)

    pooled = (successes_t + successes_c) / (n_t + n_c)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / n_t + 1 / n_c))
    if se_pooled == 0.0:
        # every customer converted, or none did: both rates are equal, there is no evidence of a difference
        z, p_value = 0.0, 1.0
    else:
        z = absolute / se_pooled
        p_value = min(1.0, math.erfc(abs(z) / math.sqrt(2.0)))

    if successes_t == 0 and successes_c == 0:
        notes.append("no conversions in either group: no lift, relative lift undefined")
    elif se == 0.0:
        notes.append("every rate is 0% or 100%: the groups are too small to tell")
    elif min(n * p for n in (n_t, n_c) for p in (pooled, 1 - pooled)) < SMALL_SAMPLE:
        notes.append(f"fewer than {SMALL_SAMPLE} expected conversions or non-conversions in a group: "
                     "the normal approximation is rough, read the interval and p-value with care")

    relative = relative_ci = None
    if rate_c == 0:
        if successes_t:
            notes.append("no conversions in the control group: relative lift is undefined")
    else:
        relative = rate_t / rate_c - 1.0
        if successes_t > 0:
            ratio = rate_t / rate_c
            se_log = math.sqrt(1 / successes_t - 1 / n_t + 1 / successes_c - 1 / n_c)
            relative_ci = (math.exp(math.log(ratio) - z_crit * se_log) - 1.0,
                           math.exp(math.log(ratio) + z_crit * se_log) - 1.0)
        else:
            notes.append("no conversions in the treated group: no interval for the relative lift")

    return Lift(**base, absolute=absolute, absolute_ci=absolute_ci, relative=relative, relative_ci=relative_ci,
                z=z, p_value=p_value, note="; ".join(notes) or None)


# ---------------------------------------------------------------- the campaign evaluation

@dataclass(frozen=True, slots=True)
class GroupStats:
    """One group's customers and what they did. Every rate is over the group's customers (None when empty);
    the unsubscribe rate is over its responders (those who accepted the offer)."""

    customers: int
    contacted: int
    responders: int
    converters: int
    unsubscribed_7d: int

    @property
    def contact_rate(self) -> float | None:
        return _ratio(self.contacted, self.customers)

    @property
    def response_rate(self) -> float | None:
        return _ratio(self.responders, self.customers)

    @property
    def success_rate(self) -> float | None:
        return _ratio(self.converters, self.customers)

    @property
    def unsubscribe_rate_7d(self) -> float | None:
        return _ratio(self.unsubscribed_7d, self.responders)

    def to_json(self) -> dict[str, Any]:
        return {
            "customers": self.customers, "contacted": self.contacted, "contact_rate": self.contact_rate,
            "responders": self.responders, "response_rate": self.response_rate,
            "converters": self.converters, "success_rate": self.success_rate,
            "unsubscribed_7d": self.unsubscribed_7d, "unsubscribe_rate_7d": self.unsubscribe_rate_7d,
        }


@dataclass(frozen=True, slots=True)
class DailyPoint:
    """The treated group's firsts on one day: customers first contacted, first responding, first converting."""

    date: date
    contacted: int
    responses: int
    conversions: int

    def to_json(self) -> dict[str, Any]:
        return {"date": self.date.isoformat(), "contacted": self.contacted, "responses": self.responses,
                "conversions": self.conversions}


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What a campaign achieved against its control group, and at what cost.

    cost = touches x cost_per_contact + treated conversions x offer_value (the offer is only paid
    to treated converters; a control customer who buys pays the full price). `eligible` is the top of
    the funnel: customers who matched the audience outside the holdout, contacted or not.
    """

    campaign_id: str
    name: str
    days: int
    cost_per_contact: float
    offer_value: float
    eligible: int
    treated: GroupStats
    control: GroupStats
    lift: Lift
    touches: int
    cost: float
    daily: tuple[DailyPoint, ...]
    notes: tuple[str, ...] = ()

    @property
    def cost_per_conversion(self) -> float | None:
        return _ratio(self.cost, self.treated.converters)

    @property
    def incremental_conversions(self) -> float | None:
        """Conversions the campaign caused, beyond what the control rate predicts for the treated group."""
        if self.lift.absolute is None:
            return None
        return self.lift.absolute * self.treated.customers

    @property
    def cost_per_incremental_conversion(self) -> float | None:
        extra = self.incremental_conversions
        return self.cost / extra if extra is not None and extra > 0 else None

    @property
    def touches_per_subscriber_month(self) -> float | None:
        """Touches per treated customer per month over the campaign's real span: a span shorter than a
        month is that month (a day's touches are never multiplied up to 30 days' worth)."""
        if not self.treated.customers:
            return None
        return self.touches / self.treated.customers / (max(self.days, DAYS_PER_MONTH) / DAYS_PER_MONTH)

    @property
    def funnel(self) -> tuple[tuple[str, int], ...]:
        t = self.treated
        return (("eligible", self.eligible), ("contacted", t.contacted), ("responded", t.responders),
                ("converted", t.converters))

    def to_json(self) -> dict[str, Any]:
        return {
            "campaign_id": self.campaign_id,
            "name": self.name,
            "period": {
                "days": self.days,
                "first_day": self.daily[0].date.isoformat() if self.daily else None,
                "last_day": self.daily[-1].date.isoformat() if self.daily else None,
            },
            "groups": {"treated": self.treated.to_json(), "control": self.control.to_json()},
            "lift": self.lift.to_json(),
            "funnel": [{"stage": stage, "customers": n} for stage, n in self.funnel],
            "cost": {
                "cost_per_contact": self.cost_per_contact, "offer_value": self.offer_value,
                "touches": self.touches, "total": self.cost,
                "per_conversion": self.cost_per_conversion,
                "incremental_conversions": self.incremental_conversions,
                "per_incremental_conversion": self.cost_per_incremental_conversion,
            },
            "touches_per_subscriber_month": self.touches_per_subscriber_month,
            "daily": [point.to_json() for point in self.daily],
            "notes": list(self.notes),
        }


def evaluate_campaign(
    campaign_id: str,
    records: Iterable[dict],
    *,
    cost_per_contact: float,
    offer_value: float,
    days: int,
    name: str | None = None,
    confidence: float = 0.95,
    tz: tzinfo | None = None,
) -> Evaluation:
    """Evaluate one campaign from its rows.

    Decision rows (SPEC 4.5, told apart by their `outcome`) assign the groups, one membership per
    customer: a current `sent` makes the customer treated and contacted, `holdout` makes them control
    (a customer both sent and held out counts as treated: the contact is what matters). When a row
    carries a `decision_id`, the verdict that stands is the latest (a delivery failure supersedes the
    send). Other rows are told apart by `kind`: contact (one touch each), response (accepting the
    offer), conversion, unsubscribe (counted when within 7 days after one of that customer's
    responses). Rows of another campaign are ignored; a row that cannot be read is skipped and noted.
    Days of the daily series are the timestamps' own calendar days, or in `tz` when given; a
    timestamp without offset is read as UTC.
    """
    if days <= 0:
        raise ValueError(f"days must be positive, not {days!r}")
    if cost_per_contact < 0 or offer_value < 0:
        raise ValueError("cost_per_contact and offer_value cannot be negative")

    rows = _Rows.read(campaign_id, records, tz)
    notes: list[str] = list(rows.notes)

    # ---- groups, from the verdicts that stand
    sent_at: dict[str, datetime] = {}
    sent_rows = 0
    holdout: set[str] = set()
    eligible: set[str] = set()
    for row, at in rows.current_decisions():
        customer, outcome = row["customer_id"], row["outcome"]
        if outcome == Outcome.SENT:
            sent_rows += 1
            sent_at[customer] = min(at, sent_at.get(customer, at))
        elif outcome == Outcome.HOLDOUT:
            holdout.add(customer)
        if outcome in _ELIGIBLE:
            eligible.add(customer)
    treated = set(sent_at)
    both = holdout & treated
    if both:
        notes.append(f"{len(both)} customer(s) were both held out and sent: counted as treated")
    control = holdout - treated
    group_of = {c: "treated" for c in treated} | {c: "control" for c in control}

    # ---- touches: the contact rows are the delivery ledger; without any, each send is one touch
    if rows.contacts:
        touches = len(rows.contacts)
    else:
        touches = sent_rows
        if sent_rows:
            notes.append("no contact rows: each sent decision counted as one touch")
    first_contact = dict(sent_at)
    for customer, at in rows.contacts:
        first_contact[customer] = min(at, first_contact.get(customer, at))
    leaked = {c for c, _ in rows.contacts if c in control}
    if leaked:
        notes.append(f"{len(leaked)} control customer(s) were contacted by this campaign: the holdout leaked")
    outsiders = {c for c, _ in rows.contacts if c not in group_of}
    if outsiders:
        notes.append(f"contacts to {len(outsiders)} customer(s) without a sent or holdout decision: "
                     "counted as touches, not in any group")

    # ---- responses, conversions, unsubscribes
    responses: dict[str, list[datetime]] = defaultdict(list)
    for customer, at in rows.responses:
        if customer in group_of:
            responses[customer].append(at)
    first_conversion: dict[str, datetime] = {}
    disagree = unknown = 0
    for customer, at, stated in rows.conversions:
        if customer not in group_of:
            unknown += 1
            continue
        if stated is not None and stated != group_of[customer]:
            disagree += 1
        first_conversion[customer] = min(at, first_conversion.get(customer, at))
    if disagree:
        notes.append(f"{disagree} conversion row(s) name a group the decision records contradict: "
                     "the decision records were used")
    if unknown:
        notes.append(f"{unknown} conversion row(s) for customers in neither group: not counted")
    unsubscribed = {
        customer for customer, at in rows.unsubscribes
        if any(timedelta(0) <= at - accepted <= UNSUBSCRIBE_WINDOW for accepted in responses.get(customer, ()))
    }

    def stats(members: set[str]) -> GroupStats:
        return GroupStats(
            customers=len(members),
            contacted=len(members & first_contact.keys()),
            responders=len(members & (responses.keys() | first_conversion.keys())),   # a conversion is a response
            converters=len(members & first_conversion.keys()),
            unsubscribed_7d=len(members & unsubscribed),
        )

    treated_stats, control_stats = stats(treated), stats(control)
    lift = two_proportion(treated_stats.converters, treated_stats.customers,
                          control_stats.converters, control_stats.customers, confidence)

    daily = _daily(
        rows.day,
        contacted=[first_contact[c] for c in treated],
        responses=[min(responses[c]) for c in treated if c in responses],
        conversions=[first_conversion[c] for c in treated if c in first_conversion],
    )
    return Evaluation(
        campaign_id=campaign_id,
        name=name or campaign_id,
        days=days,
        cost_per_contact=cost_per_contact,
        offer_value=offer_value,
        eligible=len(eligible - control),
        treated=treated_stats,
        control=control_stats,
        lift=lift,
        touches=touches,
        cost=touches * cost_per_contact + treated_stats.converters * offer_value,
        daily=daily,
        notes=tuple(notes),
    )


# ---------------------------------------------------------------- reading rows

class _Rows:
    """The rows of one campaign, sorted by kind, timestamps parsed; what could not be read is counted."""

    def __init__(self, tz: tzinfo | None):
        self.tz = tz
        self.decisions: list[dict] = []
        self.contacts: list[tuple[str, datetime]] = []
        self.responses: list[tuple[str, datetime]] = []
        self.conversions: list[tuple[str, datetime, str | None]] = []
        self.unsubscribes: list[tuple[str, datetime]] = []
        self.skipped: dict[str, int] = defaultdict(int)
        self.unknown_kinds: dict[str, int] = defaultdict(int)

    @classmethod
    def read(cls, campaign_id: str, records: Iterable[dict], tz: tzinfo | None) -> _Rows:
        rows = cls(tz)
        for row in records:
            if not isinstance(row, dict):
                rows.skipped["not an object"] += 1
                continue
            other = row.get("campaign_id")
            if other is not None and other != campaign_id:
                continue
            try:
                rows._add(row)
            except (KeyError, TypeError, ValueError) as error:
                rows.skipped[_why(error)] += 1
        return rows

    def _add(self, row: dict) -> None:
        if "outcome" in row:
            outcome = Outcome(row["outcome"])
            at = _instant(row["decided_at"])
            self.decisions.append({**row, "outcome": outcome, "_at": at, "customer_id": _customer(row)})
            return
        kind = row["kind"]
        customer, at = _customer(row), _instant(row["at"])
        if kind == "contact":
            self.contacts.append((customer, at))
        elif kind == "response":
            self.responses.append((customer, at))
        elif kind == "conversion":
            group = row.get("group")
            if group not in (None, "treated", "control"):
                raise ValueError(f"group {group!r}")
            self.conversions.append((customer, at, group))
        elif kind == "unsubscribe":
            self.unsubscribes.append((customer, at))
        else:
            self.unknown_kinds[str(kind)] += 1

    def current_decisions(self) -> Iterable[tuple[dict, datetime]]:
        keyed = [row for row in self.decisions if row.get("decision_id")]
        loose = [row for row in self.decisions if not row.get("decision_id")]
        for row in [*current_records(keyed).values(), *loose]:
            yield row, row["_at"]

    def day(self, at: datetime) -> date:
        return (at.astimezone(self.tz) if self.tz else at).date()

    @property
    def notes(self) -> list[str]:
        out = [f"{n} row(s) skipped: {why}" for why, n in sorted(self.skipped.items())]
        out += [f"{n} row(s) of unknown kind {kind!r} ignored" for kind, n in sorted(self.unknown_kinds.items())]
        return out


def _customer(row: dict) -> str:
    customer = row["customer_id"]
    if not isinstance(customer, str) or not customer:
        raise ValueError("customer_id must be a non-empty string")
    return customer


def _instant(value: Any) -> datetime:
    at = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)


def _why(error: Exception) -> str:
    if isinstance(error, KeyError):
        return f"missing field {error.args[0]!r}"
    # the reason names no value: one note per kind of fault, not one per row
    return "unreadable outcome, group or timestamp" if isinstance(error, ValueError) else "a field has the wrong type"


def _daily(day, *, contacted: list[datetime], responses: list[datetime],
           conversions: list[datetime]) -> tuple[DailyPoint, ...]:
    counts: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0])
    for column, instants in enumerate((contacted, responses, conversions)):
        for at in instants:
            counts[day(at)][column] += 1
    if not counts:
        return ()
    first, last = min(counts), max(counts)
    out = []
    current = first
    while current <= last:  # every day between the first and the last, quiet days as zeros
        c = counts.get(current, (0, 0, 0))
        out.append(DailyPoint(current, c[0], c[1], c[2]))
        current += timedelta(days=1)
    return tuple(out)


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None
