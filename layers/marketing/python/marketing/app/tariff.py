"""The tariff advisor as a use case: one customer's advice today, in their own timezone (domain/tariff.py
holds the rule). Served by the offer API's tariff route (care and store desktops) and the CLI."""
from __future__ import annotations

from datetime import date, datetime
from typing import Callable, Protocol, Sequence
from zoneinfo import ZoneInfo

from marketing.domain.models import Profile
from marketing.domain.tariff import Advice, PlanCatalog, advise


class Profiles(Protocol):
    def get_profiles(self, customer_ids: Sequence[str]) -> dict[str, Profile]: ...


class UnknownCustomer(LookupError):
    pass


class TariffAdvisor:
    def __init__(self, profiles: Profiles, plans: PlanCatalog, clock: Callable[[], datetime]):
        self._profiles, self._plans, self._clock = profiles, plans, clock

    def advice(self, customer_id: str, on: date | None = None) -> Advice:
        """`on` (the customer's local date) defaults to today where the customer is."""
        profile = self._profiles.get_profiles([customer_id]).get(customer_id)
        if profile is None:
            raise UnknownCustomer(f"no profile for customer {customer_id!r}")
        today = on or self._clock().astimezone(ZoneInfo(profile.timezone)).date()
        return advise(profile, self._plans, today)
