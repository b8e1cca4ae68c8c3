"""Send pacing: never more sends of a sender per window than its rate, over any number of callers."""
from __future__ import annotations

import pytest

from marketing.adapters.memory import MemoryPolicyStore, MemorySendPacer
from marketing.app.pacing import Paced, Pacing
from marketing.app.policy_source import PolicySource
from marketing.domain.contact_policy import ContactPolicy
from marketing.domain.models import Channel


class FakeTime:
    def __init__(self, now: float):
        self.now = now

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_burst_is_spread_two_a_second():
    t, pacer = FakeTime(1000.25), MemorySendPacer()
    pacing = Pacing(pacer, t.clock, t.sleep, horizon_s=2)
    sent_at = []
    for _ in range(7):
        pacing.acquire("sms:long_code", 2)
        sent_at.append(t.now)
    assert [int(s) for s in sent_at] == [1000, 1000, 1001, 1001, 1002, 1002, 1003]
    assert max(pacer.taken.values()) == 2


def test_callers_beyond_the_horizon_are_paced_back_to_the_queue():
    t, pacer = FakeTime(1000.25), MemorySendPacer()
    pacing = Pacing(pacer, t.clock, lambda s: None, horizon_s=2)  # many callers at the same instant
    granted, paced = 0, []
    for _ in range(10):
        try:
            pacing.acquire("sms:long_code", 2)
            granted += 1
        except Paced as exc:
            paced.append(exc.delay_s)
    assert granted == 6 and len(paced) == 4                 # windows 1000, 1001, 1002: two each
    assert all(d >= 2 for d in paced)
    assert sorted(pacer.taken.values()) == [2, 2, 2]


def test_rates_below_one_a_second_use_longer_windows():
    t = FakeTime(1000.0)
    pacing = Pacing(MemorySendPacer(), t.clock, t.sleep, horizon_s=10)
    starts = []
    for _ in range(3):
        pacing.acquire("sms:long_code", 0.25)
        starts.append(t.now)
    assert starts == [1000.0, 1004.0, 1008.0]


def test_no_rate_means_no_pacing():
    pacer = MemorySendPacer()
    Pacing(pacer).acquire("email:default", None)
    assert pacer.taken == {}


def test_send_rates_per_channel_and_per_sender():
    policy = ContactPolicy.model_validate({"send_rates": {"sms": {"long_code": 1, "default": 100}, "email": 14}})
    assert policy.send_rate(Channel.SMS, "long_code") == 1
    assert policy.send_rate(Channel.SMS, "short_code") == 100
    assert policy.send_rate(Channel.SMS) == 100
    assert policy.send_rate(Channel.EMAIL, "anything") == 14
    assert policy.send_rate(Channel.APP_PUSH) is None
    with pytest.raises(ValueError):
        ContactPolicy.model_validate({"send_rates": {"sms": 0}})


def test_the_policy_source_prefers_the_stored_copy_and_keeps_the_last_good_one():
    now = [0.0]
    store, errors = MemoryPolicyStore(), []
    source = PolicySource(ContactPolicy(complaint_suppression_days=30), store, ttl_seconds=10,
                          monotonic=lambda: now[0], on_invalid=errors.append)
    assert source().complaint_suppression_days == 30                       # no stored copy: the file
    store.put_policy({"complaint_suppression_days": 7}, by="ops")
    assert source().complaint_suppression_days == 30                       # cached
    now[0] = 11
    assert source().complaint_suppression_days == 7                        # the stored copy, live
    store.put_policy({"caps": {"fax": {"day": 1}}}, by="ops")
    now[0] = 22
    assert source().complaint_suppression_days == 7 and len(errors) == 1   # invalid: the last good stays
