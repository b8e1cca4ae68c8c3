"""The contact policy (SPEC 4.4) on the real handlers against moto: each rule shows in what the
customer receives (the SMS moto captured) and in the decision record's outcome and reason."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone


from marketing.domain.decisions import current_records
from marketing.domain.models import Outcome, Reason
from tests.integration.world import QuietWindow, a_campaign, a_profile, an_event

LI_LEI, HAN_MEIMEI = "8613800000001", "8613800000002"


def quiet_now(seconds_left: int) -> dict:
    """Quiet hours (in UTC) that started a minute ago and end `seconds_left` from now."""
    now = datetime.now(timezone.utc)
    return {"start": (now - timedelta(minutes=1)).strftime("%H:%M:%S"),
            "end": (now + timedelta(seconds=seconds_left)).strftime("%H:%M:%S")}


def test_a_customer_day_cap_over_all_campaigns_throttles_the_next_contact(world, policy):
    policy(caps={"all": {"day": 1}})
    world.add_campaigns(a_campaign("first", area="PEK_T3"), a_campaign("second", area="PVG_T2"))
    world.add_profiles(a_profile(LI_LEI))
    one, two = an_event(area="PEK_T3"), an_event(area="PVG_T2")

    world.publish(one)
    world.run()
    world.publish(two)
    world.run()

    assert len(world.sms()) == 1
    record = world.decision(two, "second")
    assert (record["outcome"], record["reason"], record["detail"]) == (Outcome.THROTTLED, Reason.CAP, "day.all")


def test_quiet_hours_drop_sends_nothing(world, policy):
    policy(quiet_hours=quiet_now(3600))
    campaign = a_campaign()
    campaign["quiet_hours"] = "drop"
    world.add_campaigns(campaign)
    world.add_profiles({**a_profile(LI_LEI), "timezone": "UTC"})
    event = an_event()

    world.publish(event)
    world.run()

    assert world.sms() == []
    record = world.decision(event, "roam-offer")
    assert (record["outcome"], record["reason"]) == (Outcome.SUPPRESSED, Reason.QUIET_HOURS)


def test_quiet_hours_defer_sends_once_when_they_end(world, policy):
    quiet = QuietWindow()
    policy(quiet_hours=quiet.hours)
    world.add_campaigns(a_campaign())  # quiet_hours: defer is the default
    world.add_profiles({**a_profile(LI_LEI), "timezone": "UTC"})
    event = an_event()

    world.publish(event)
    world.run()
    assert world.sms() == [], "nothing goes out during quiet hours"
    assert world.decision(event, "roam-offer")["outcome"] == Outcome.DEFERRED

    quiet.wait()
    world.run()
    time.sleep(2)
    world.run()

    assert len(world.sms()) == 1, "delivered once when quiet hours end"
    standing = current_records(world.decisions(event["event_id"]))[f"{event['customer_id']}:{event['event_id']}:roam-offer"]
    assert (standing["outcome"], standing["channel"]) == (Outcome.SENT, "sms")  # the deferral now stands as sent


def test_the_global_control_group_gets_no_marketing_at_all(world, policy):
    policy(global_control_group="100%")
    world.add_campaigns(a_campaign())
    world.add_profiles(a_profile(LI_LEI))
    event = an_event()

    world.publish(event)
    world.run()

    assert world.sms() == []
    record = world.decision(event, "roam-offer")
    assert (record["outcome"], record["reason"]) == (Outcome.HOLDOUT, Reason.GLOBAL_CONTROL)


def test_a_campaign_holdout_customer_is_decided_but_not_contacted(world, policy):
    policy()
    holdout, other = a_campaign("roam-offer", priority=90), a_campaign("travel-data", priority=10)
    holdout["control_group"] = "100%"
    world.add_campaigns(holdout, other)
    world.add_profiles(a_profile(LI_LEI))
    event = an_event()

    world.publish(event)
    world.run()

    assert world.sms() == [], "a holdout is not filled in by a lower-priority campaign"
    assert (world.decision(event, "roam-offer")["outcome"], world.decision(event, "roam-offer")["reason"]) == (
        Outcome.HOLDOUT, Reason.CONTROL_GROUP)
    assert world.decision(event, "travel-data")["outcome"] == Outcome.LOST_ARBITRATION


def test_a_complaint_suppresses_marketing(world, policy):
    policy(complaint_suppression_days=30)
    world.add_campaigns(a_campaign())
    world.add_profiles(a_profile(LI_LEI))
    complaint = an_event("care.complaint", category="billing")
    event = an_event()

    world.publish(complaint)
    world.run()
    world.publish(event)
    world.run()

    assert world.sms() == []
    record = world.decision(event, "roam-offer")
    assert (record["outcome"], record["reason"]) == (Outcome.SUPPRESSED, Reason.COMPLAINT)


def test_a_campaign_daily_cap_and_budget_stop_sending_at_once(world, policy):
    policy()
    capped, funded = a_campaign("capped", area="PEK_T3", limits={"daily_cap": 1}), \
        a_campaign("funded", area="PVG_T2", limits={"budget": 30.0})
    world.add_campaigns(capped, funded)
    world.add_profiles(a_profile(LI_LEI), a_profile(HAN_MEIMEI))
    events = [an_event(customer=c, area=a) for a in ("PEK_T3", "PVG_T2") for c in (LI_LEI, HAN_MEIMEI)]

    for event in events:
        world.publish(event)
        world.run()

    assert len(world.sms()) == 2  # one per campaign: the offer is worth 30, the budget 30
    assert (world.decision(events[1], "capped")["reason"], world.decision(events[3], "funded")["reason"]) == (
        Reason.DAILY_CAP, Reason.BUDGET)


def test_an_sms_opt_out_suppresses_with_reason_opt_out(world, policy):
    policy()
    world.add_campaigns(a_campaign())
    world.add_profiles(a_profile(LI_LEI, consents={"sms": False, "email": False}))
    event = an_event()

    world.publish(event)
    world.run()

    assert world.sms() == []
    record = world.decision(event, "roam-offer")
    assert (record["outcome"], record["reason"]) == (Outcome.SUPPRESSED, Reason.OPT_OUT)
