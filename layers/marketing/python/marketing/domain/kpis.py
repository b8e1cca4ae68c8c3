"""The operator's four headline figures (the seeds' 成功率, 接触频次, 活动上线周期, 7天退订率), from the
product's own records over a period:

- success rate: customers who converted on a campaign that contacted them / customers contacted;
- touches per subscriber per month: contacts / customers contacted / months in the period (a period
  shorter than a month is that month: never multiplied up);
- campaign lead time: hours from submission to going live, median over the campaigns that went live;
- 7-day unsubscribe rate: customers contacted who opted out within 7 days of a contact / customers contacted.
Pure: rows in, figures out.
"""
from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable

DAYS_PER_MONTH = 30.0
UNSUBSCRIBE_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class Kpis:
    since: datetime
    until: datetime
    contacts: int
    customers_contacted: int
    success_rate: float | None
    touches_per_subscriber_month: float | None
    lead_time_hours_median: float | None
    campaigns_launched: int
    unsubscribe_rate_7d: float | None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["since"], out["until"] = self.since.isoformat(), self.until.isoformat()
        return out


def kpis(contacts: Iterable[tuple[str, str, datetime]], conversions: Iterable[tuple[str, str, datetime]],
         opt_outs: Iterable[tuple[str, datetime]], launches: Iterable[tuple[datetime, datetime]],
         since: datetime, until: datetime) -> Kpis:
    """`contacts`: (customer, campaign, at); `conversions`: (customer, campaign, at) attributed to the
    treated group; `opt_outs`: (customer, at); `launches`: (submitted, live) per campaign."""
    touched = [(c, k, at) for c, k, at in contacts if since <= at < until]
    customers = {c for c, _, _ in touched}
    by_customer: dict[str, list[datetime]] = {}
    for customer, _, at in touched:
        by_customer.setdefault(customer, []).append(at)
    contacted_campaigns = {(c, k) for c, k, _ in touched}
    converted = {c for c, k, at in conversions if since <= at < until and (c, k) in contacted_campaigns}
    unsubscribed = {c for c, at in opt_outs if c in by_customer
                    and any(timedelta(0) <= at - sent <= UNSUBSCRIBE_WINDOW for sent in by_customer[c])}
    months = max((until - since).total_seconds() / 86400, DAYS_PER_MONTH) / DAYS_PER_MONTH
    leads = [(live - submitted).total_seconds() / 3600 for submitted, live in launches
             if since <= live < until and live >= submitted]
    n = len(customers)
    return Kpis(since=since, until=until, contacts=len(touched), customers_contacted=n,
                success_rate=len(converted) / n if n else None,
                touches_per_subscriber_month=len(touched) / n / months if n else None,
                lead_time_hours_median=statistics.median(leads) if leads else None,
                campaigns_launched=len(leads),
                unsubscribe_rate_7d=len(unsubscribed) / n if n else None)
