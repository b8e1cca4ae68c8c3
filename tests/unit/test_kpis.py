"""The four headline figures against hand-computed values."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from marketing.domain.kpis import kpis

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
D = timedelta(days=1)


def test_the_four_figures_by_hand():
    contacts = [("a", "roam", T0), ("a", "data", T0 + 2 * D), ("b", "roam", T0 + D), ("c", "roam", T0 + 3 * D),
                ("z", "roam", T0 - 10 * D)]                        # before the period: not counted
    conversions = [("a", "roam", T0 + D), ("b", "data", T0 + 2 * D),   # b converted on a campaign that never reached b
                   ("c", "roam", T0 + 40 * D)]                      # after the period
    opt_outs = [("c", T0 + 9 * D), ("b", T0 + 12 * D)]               # c within 7 days of its contact; b not
    launches = [(T0, T0 + timedelta(hours=6)), (T0 + D, T0 + D + timedelta(hours=30)),
                (T0 + 2 * D, T0 + 2 * D + timedelta(hours=10))]
    k = kpis(contacts, conversions, opt_outs, launches, since=T0, until=T0 + 30 * D)
    assert (k.contacts, k.customers_contacted) == (4, 3)
    assert k.success_rate == pytest.approx(1 / 3)                      # a only
    assert k.touches_per_subscriber_month == pytest.approx(4 / 3)      # a 30-day period is one month
    assert k.lead_time_hours_median == 10 and k.campaigns_launched == 3
    assert k.unsubscribe_rate_7d == pytest.approx(1 / 3)               # c only


def test_a_longer_period_divides_by_its_months_and_an_empty_one_has_no_rates():
    contacts = [("a", "roam", T0 + i * 10 * D) for i in range(6)]      # 6 touches over 60 days
    k = kpis(contacts, [], [], [], since=T0, until=T0 + 60 * D)
    assert k.touches_per_subscriber_month == pytest.approx(3.0)
    empty = kpis([], [], [], [], since=T0, until=T0 + D)
    assert (empty.success_rate, empty.touches_per_subscriber_month, empty.unsubscribe_rate_7d,
            empty.lead_time_hours_median) == (None, None, None, None)
