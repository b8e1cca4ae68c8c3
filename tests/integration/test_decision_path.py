"""The decision path end to end on moto: Kinesis customer-events → enrich → decide → deliver → SNS.

Each test publishes events as upstream would and checks what a user sees: the SMS the provider
captured, the decision records in the log, the contacts in the ledger, the queues left behind.
"""
from __future__ import annotations

from datetime import timedelta
from email import message_from_string
from email import policy as email_policy

from marketing.domain.models import Channel, Outcome, Reason
from tests.integration.world import a_campaign, a_profile, an_event, sample_campaign

LI_LEI = "8613800000001"
HAN_MEI = "8613800000002"


def test_an_event_on_the_stream_becomes_one_rendered_sms_and_a_sent_record(world):
    world.add_campaigns(a_campaign("roam-offer", text="{name}您好，7天漫游包{offer_value}元，回复{reply_code}开通。"))
    world.add_profiles(a_profile(LI_LEI, name="李雷"))
    event = an_event(customer=LI_LEI)

    world.publish(event)
    world.run()

    assert world.sms() == [(f"+{LI_LEI}", "李雷您好，7天漫游包30元，回复Y7开通。")]
    record = world.decision(event, "roam-offer")
    assert (record["outcome"], record["reason"], record["channel"]) == (Outcome.SENT, None, Channel.SMS)
    assert record["customer_id"] == LI_LEI
    assert [c["campaign_id"] for c in world.contacts(LI_LEI)] == ["roam-offer"]


def test_the_same_event_id_twice_in_one_batch_contacts_once(world):
    world.add_campaigns(a_campaign("roam-offer"))
    world.add_profiles(a_profile(LI_LEI))
    event = an_event(customer=LI_LEI)

    world.publish(event, event)
    world.run()

    assert len(world.sms()) == 1
    assert len(world.contacts(LI_LEI)) == 1
    assert world.contacts_counted(LI_LEI, "roam-offer") == 1
    assert world.decision(event, "roam-offer")["outcome"] == Outcome.SENT


def test_a_redelivery_in_a_later_batch_after_the_first_was_processed_contacts_once(world):
    world.add_campaigns(a_campaign("roam-offer"))
    world.add_profiles(a_profile(LI_LEI))
    event = an_event(customer=LI_LEI)
    world.publish(event)
    world.run()
    assert len(world.sms()) == 1

    world.publish(event)
    world.run()

    assert len(world.sms()) == 1
    assert len(world.contacts(LI_LEI)) == 1
    assert world.contacts_counted(LI_LEI, "roam-offer") == 1
    assert world.decision(event, "roam-offer")["outcome"] == Outcome.SENT  # the replay repeats, never contradicts


def test_per_customer_cap_of_one_holds_across_two_events(world):
    world.add_campaigns(a_campaign("roam-offer", limits={"per_customer": 1}))
    world.add_profiles(a_profile(LI_LEI))
    first, second = an_event(customer=LI_LEI), an_event(customer=LI_LEI)

    world.publish(first)
    world.run()
    world.publish(second)
    world.run()

    assert len(world.sms()) == 1
    assert world.decision(first, "roam-offer")["outcome"] == Outcome.SENT
    refused = world.decision(second, "roam-offer")
    assert (refused["outcome"], refused["reason"]) == (Outcome.THROTTLED, Reason.PER_CUSTOMER)


def test_cooldown_refuses_a_second_contact_within_its_window(world):
    world.add_campaigns(a_campaign("roam-offer", limits={"cooldown": "30d"}))
    world.add_profiles(a_profile(LI_LEI))
    first, second = an_event(customer=LI_LEI), an_event(customer=LI_LEI)

    world.publish(first)
    world.run()
    world.publish(second)
    world.run()

    assert len(world.sms()) == 1
    refused = world.decision(second, "roam-offer")
    assert (refused["outcome"], refused["reason"]) == (Outcome.THROTTLED, Reason.COOLDOWN)


def test_an_event_older_than_the_campaigns_max_event_age_expires(world):
    world.add_campaigns(a_campaign("roam-offer", max_event_age="5m"))
    world.add_profiles(a_profile(LI_LEI))
    event = an_event(customer=LI_LEI, age=timedelta(minutes=10))  # well inside the catalog's 24h

    world.publish(event)
    world.run()

    assert world.sms() == []
    assert world.dead_letters() == []
    record = world.decision(event, "roam-offer")
    assert (record["outcome"], record["reason"]) == (Outcome.EXPIRED, Reason.MAX_EVENT_AGE)


def test_airport_campaign_skips_airport_staff_and_roaming_pack_holders(world):
    world.add_campaigns(sample_campaign("airport-intl-roaming"))
    staff, holder, traveller = "8613800000011", "8613800000012", "8613800000013"
    world.add_profiles(
        a_profile(staff, tier="gold", name="张伟", works_at_airport=True, roaming_pack=False),
        a_profile(holder, tier="gold", name="王芳", roaming_pack=True),
        a_profile(traveller, tier="gold", name="韩梅梅", roaming_pack=False),
    )
    events = {who: an_event(customer=who, area="PEK_T3_INTL_DEPARTURE") for who in (staff, holder, traveller)}

    world.publish(*events.values())
    world.run()

    assert world.sms() == [(f"+{traveller}", "韩梅梅您好，祝您旅途愉快！7天出境漫游包（语音+流量）仅需30元，回复Y7立即开通。")]
    for who, tag in ((staff, "tags.works_at_airport"), (holder, "tags.roaming_pack")):
        record = world.decision(events[who], "airport-intl-roaming")
        assert (record["outcome"], record["reason"], record["detail"]) == (Outcome.NOT_ELIGIBLE, Reason.AUDIENCE, tag)
    assert world.decision(events[traveller], "airport-intl-roaming")["outcome"] == Outcome.SENT


def test_the_higher_priority_campaign_wins_and_the_other_records_why(world):
    world.add_campaigns(
        a_campaign("roam-basic", priority=50, text="{name}：基础漫游包"),
        a_campaign("roam-premium", priority=90, text="{name}：尊享漫游包"),
    )
    world.add_profiles(a_profile(LI_LEI, name="李雷"))
    event = an_event(customer=LI_LEI)

    world.publish(event)
    world.run()

    assert world.sms() == [(f"+{LI_LEI}", "李雷：尊享漫游包")]
    assert world.decision(event, "roam-premium")["outcome"] == Outcome.SENT
    loser = world.decision(event, "roam-basic")
    assert (loser["outcome"], loser["reason"], loser["detail"]) == (Outcome.LOST_ARBITRATION, Reason.PRIORITY, "roam-premium")


def test_equal_priorities_are_won_by_the_lower_campaign_id_every_time(world):
    # stored in the "wrong" order, so table/scan order cannot explain the result
    world.add_campaigns(a_campaign("tie-b", priority=60, text="B"), a_campaign("tie-a", priority=60, text="A"))
    customers = [f"86138000001{i:02d}" for i in range(5)]
    world.add_profiles(*(a_profile(c) for c in customers))
    events = [an_event(customer=c) for c in customers]

    world.publish(*events)
    world.run()

    assert sorted(world.sms()) == sorted((f"+{c}", "A") for c in customers)
    for event in events:
        loser = world.decision(event, "tie-b")
        assert (loser["outcome"], loser["reason"], loser["detail"]) == (Outcome.LOST_ARBITRATION, Reason.PRIORITY, "tie-a")


def test_no_marketing_consent_suppresses_the_offer(world):
    world.add_campaigns(a_campaign("roam-offer"))
    world.add_profiles(a_profile(LI_LEI, consents={"marketing": False}))
    event = an_event(customer=LI_LEI)

    world.publish(event)
    world.run()

    assert world.sms() == []
    record = world.decision(event, "roam-offer")
    assert (record["outcome"], record["reason"]) == (Outcome.SUPPRESSED, Reason.MARKETING_CONSENT)


def test_no_sms_consent_and_no_email_address_leaves_no_channel(world):
    world.add_campaigns(a_campaign("roam-offer", channels=[
        {"sms": {"text": "{name}您好，漫游包{offer_value}元"}},
        {"email": {"subject": "漫游包", "text": "{name}您好，漫游包{offer_value}元"}},
    ]))
    world.add_profiles(a_profile(LI_LEI, email=None, consents={"sms": False, "email": True}))
    event = an_event(customer=LI_LEI)

    world.publish(event)
    world.run()

    assert world.sms() == [] and world.emails() == []
    record = world.decision(event, "roam-offer")
    assert (record["outcome"], record["reason"]) == (Outcome.SUPPRESSED, Reason.NO_CHANNEL)


def test_a_customer_who_prefers_email_gets_the_offer_by_email(world):
    world.add_campaigns(a_campaign("roam-offer", channels=[
        {"sms": {"text": "{name}您好，漫游包{offer_value}元"}},
        {"email": {"subject": "{name}：漫游包{offer_value}元", "text": "{name}您好", "html": "<p>{name}您好</p>"}},
    ]))
    world.add_profiles(a_profile(LI_LEI, name="李雷", email="li.lei@example.com", channel_preference=["email", "sms"]))
    event = an_event(customer=LI_LEI)

    world.publish(event)
    world.run()

    assert world.sms() == []
    [sent] = world.emails()  # a raw MIME message (List-Unsubscribe needs SendRawEmail)
    mail = message_from_string(sent.raw_data, policy=email_policy.default)
    assert (sent.destinations, mail["Subject"]) == (["li.lei@example.com"], "李雷：漫游包30元")
    record = world.decision(event, "roam-offer")
    assert (record["outcome"], record["channel"]) == (Outcome.SENT, Channel.EMAIL)


def test_a_template_field_the_profile_lacks_fails_that_offer_once(world):
    world.add_campaigns(a_campaign("roam-offer", text="{name}您好，漫游包{offer_value}元"))
    world.add_profiles(a_profile(LI_LEI, name=None))
    event = an_event(customer=LI_LEI)

    world.publish(event)
    world.run()

    assert world.sms() == []
    failed = [r for r in world.decisions(event["event_id"]) if r["outcome"] == Outcome.FAILED]
    assert [(r["campaign_id"], r["reason"]) for r in failed] == [("roam-offer", Reason.TEMPLATE)]
    assert "name" in failed[0]["detail"]
    assert world.contacts(LI_LEI) == []
    # not retried forever: nothing left on the delivery queue or its DLQ
    assert world.messages_on("DELIVERY_QUEUE_URL") == 0
    assert world.messages_on("DELIVERY_DLQ_URL") == 0


def test_a_campaign_added_while_running_is_matched_by_the_next_event(world, monkeypatch):
    monkeypatch.setenv("CAMPAIGN_CACHE_SECONDS", "0")
    world.add_profiles(a_profile(LI_LEI, name="李雷"))
    world.start()
    before = an_event(customer=LI_LEI)
    world.publish(before)
    world.run()
    assert world.sms() == [] and world.decisions(before["event_id"]) == []  # warm, and nothing live yet

    world.add_campaigns(a_campaign("late-offer", text="{name}：新活动"))
    after = an_event(customer=LI_LEI)
    world.publish(after)
    world.run()

    assert world.sms() == [(f"+{LI_LEI}", "李雷：新活动")]
    assert world.decision(after, "late-offer")["outcome"] == Outcome.SENT
