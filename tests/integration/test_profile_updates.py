"""Profile updates declared as data (SPEC 4.7), through the real enrich/decide/deliver handlers on moto."""
from __future__ import annotations

from datetime import timedelta

from marketing.domain.models import Outcome, Reason
from tests.integration.world import a_campaign, a_profile, an_event, sample_campaign

LI_LEI = "8613800000001"
NEW = "8613800000099"


def test_a_roaming_pack_bought_makes_the_roaming_campaign_not_eligible(world):
    world.add_campaigns(a_campaign("roam-offer", audience={"tags.roaming_pack": {"ne": True}}))
    world.add_profiles(a_profile(LI_LEI, roaming_pack=False))
    order = an_event("order.completed", customer=LI_LEI, product="ROAM_7D")
    airport = an_event(customer=LI_LEI)

    world.publish(order, airport)
    world.run()

    record = world.decision(airport, "roam-offer")
    assert (record["outcome"], record["reason"]) == (Outcome.NOT_ELIGIBLE, Reason.AUDIENCE)
    assert "tags.roaming_pack" in str(record.get("detail"))
    stored = world.profiles.get_profiles([LI_LEI])[LI_LEI]
    assert stored.tags["roaming_pack"] is True and "roaming_pack" in stored.expiry
    assert world.sms() == []


def test_international_calls_count_once_each_in_the_rolling_window(world):
    world.add_profiles(a_profile(LI_LEI, intl_calls_90d=0))
    calls = [an_event("call.international", customer=LI_LEI, country="JP") for _ in range(3)]

    world.publish(*calls)
    world.run()
    world.publish(*calls)  # re-delivered
    world.publish(an_event("call.international", customer=LI_LEI, country="JP", age=timedelta(days=91)))
    world.run()

    assert world.profiles.get_profiles([LI_LEI])[LI_LEI].tags["intl_calls_90d"] == 3
    assert [d["reason"] for d in world.dead_letters()] == ["too_old"]


def test_a_new_subscriber_event_creates_the_profile_and_the_welcome_campaign_sends(world):
    welcome = sample_campaign("welcome-onboarding")
    welcome["control_group"] = "0%"
    world.add_campaigns(welcome)
    event = an_event("lifecycle.new_subscriber", customer=NEW, plan="4G-58", msisdn=f"+{NEW}", name="韩梅梅",
                     timezone="Asia/Shanghai", consent_marketing=True, consent_sms=True)

    world.publish(event)
    world.run()

    assert world.dead_letters() == []
    profile = world.profiles.get_profiles([NEW])[NEW]
    assert (profile.msisdn, profile.tags["plan"], profile.tags["tenure_months"]) == (f"+{NEW}", "4G-58", 0)
    assert world.decision(event, "welcome-onboarding")["outcome"] == Outcome.SENT
    assert [to for to, _ in world.sms()] == [f"+{NEW}"]


def test_an_update_keeps_the_items_other_attributes_and_loses_to_a_concurrent_change(world):
    world.add_profiles(a_profile(LI_LEI))
    ddb, table = world.client("dynamodb"), world.env["PROFILES_TABLE"]
    ddb.update_item(TableName=table, Key={"customer_id": {"S": LI_LEI}}, UpdateExpression="SET #w = :at",
                    ExpressionAttributeNames={"#w": "opted_out#sms"}, ExpressionAttributeValues={":at": {"S": "t"}})
    world.publish(an_event("call.international", customer=LI_LEI, country="JP"))
    world.run()

    item = ddb.get_item(TableName=table, Key={"customer_id": {"S": LI_LEI}})["Item"]
    assert item["opted_out#sms"]["S"] == "t"
    assert world.profiles.get_profiles([LI_LEI])[LI_LEI].tags["intl_calls_90d"] == 1
