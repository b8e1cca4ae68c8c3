"""The channel preference model: the most-used channel the customer responded on and never complained about."""
from __future__ import annotations

from marketing.domain.channels import ChannelHistory, channel_preference, preferred_channel
from marketing.domain.models import Channel

SMS, EMAIL, PUSH = Channel.SMS, Channel.EMAIL, Channel.APP_PUSH


def history(used=None, responded=None, complained=()):
    return ChannelHistory(used or {}, responded or {}, frozenset(complained))


def test_without_history_the_profile_list_stands():
    assert preferred_channel(history()) is None
    assert channel_preference(history(), [EMAIL, SMS]) == [EMAIL, SMS]


def test_a_channel_used_but_never_answered_is_not_preferred():
    assert channel_preference(history(used={SMS: 9, EMAIL: 1}, responded={EMAIL: 1}), [SMS, EMAIL]) == [EMAIL, SMS]


def test_the_most_used_answered_channel_wins():
    h = history(used={SMS: 5, EMAIL: 2, PUSH: 8}, responded={SMS: 1, EMAIL: 2, PUSH: 1})
    assert preferred_channel(h) == PUSH
    assert channel_preference(h, [SMS, EMAIL]) == [PUSH, SMS, EMAIL]


def test_a_channel_complained_about_is_never_preferred_and_goes_last():
    h = history(used={SMS: 9, EMAIL: 1}, responded={SMS: 3, EMAIL: 1}, complained={SMS})
    assert preferred_channel(h) == EMAIL
    assert channel_preference(h, [SMS, PUSH, EMAIL]) == [EMAIL, PUSH, SMS]


def test_only_complaints_fall_back_to_the_profile_order_with_the_complained_channel_last():
    assert channel_preference(history(responded={SMS: 1}, complained={SMS}), [SMS, EMAIL]) == [EMAIL, SMS]


def test_ties_break_on_responses_then_a_fixed_order():
    assert preferred_channel(history(used={SMS: 2, EMAIL: 2}, responded={SMS: 1, EMAIL: 2})) == EMAIL
    assert preferred_channel(history(used={SMS: 2, EMAIL: 2}, responded={SMS: 1, EMAIL: 1})) == SMS


def test_history_from_stored_counts_ignores_unknown_channels():
    h = ChannelHistory.from_counts({"sms": 2, "fax": 9}, {"sms": 1}, ["fax"])
    assert h == history(used={SMS: 2}, responded={SMS: 1})


def test_the_memory_ledger_keeps_the_history_the_model_reads():
    from datetime import datetime, timezone

    from marketing.adapters.memory import MemoryContactLedger

    ledger, at = MemoryContactLedger(), datetime(2026, 11, 23, tzinfo=timezone.utc)
    ledger.record_delivery("c1", "camp", "e1", "sms", at)
    ledger.record_delivery("c1", "camp", "e1", "sms", at)          # the same contact again: counted once
    ledger.record_delivery("c1", "camp", "e2", "email", at)
    ledger.record_response("c1", "camp", "email", at)
    ledger.record_complaint("c1", at, channel="sms")
    assert ledger.channel_history("c1") == history(used={SMS: 1, EMAIL: 1}, responded={EMAIL: 1}, complained={SMS})
    assert ledger.channel_history("other") == history()
