"""Consents are a record (SPEC 4.7): the customer's withdrawal survives a bulk import, an import merges
into the stored profile, through the real responses/enrich/decide handlers and `marketing profiles import`."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from tests.integration.cli import run
from tests.integration.test_responses import assert_the_next_sms_campaign_is_suppressed, inbound_sms
from tests.integration.world import World, a_campaign, a_profile, an_event

CUSTOMER = "8613800000001"


def import_lines(tmp_path: Path, *rows: dict) -> tuple[int, str, str]:
    path = tmp_path / "profiles.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return run("profiles", "import", str(path))


def item(world: World, customer: str = CUSTOMER) -> dict:
    return world.client("dynamodb").get_item(TableName=world.env["PROFILES_TABLE"],
                                             Key={"customer_id": {"S": customer}})["Item"]


def test_a_td_reply_is_not_reverted_by_a_bulk_import_and_the_next_sms_is_suppressed(stack, tmp_path):
    world = stack
    world.add_campaigns(a_campaign("roam", limits={"per_customer": 5}), a_campaign("next-campaign", area="PVG_T2"))
    world.add_profiles(a_profile(CUSTOMER))
    world.publish(an_event(customer=CUSTOMER))
    world.run()
    assert len(world.sms()) == 1
    inbound_sms(world, "TD", message_id="in-td")
    world.run()

    code, _, err = import_lines(tmp_path, {"customer_id": CUSTOMER, "msisdn": f"+{CUSTOMER}",
                                           "consents": {"marketing": True, "sms": True}, "tags": {"plan": "5G-199"}})
    assert code == 0
    assert "consents.sms" in err and "reply_keyword" in err   # the kept consent is named

    profile = world.profiles.get_profiles([CUSTOMER])[CUSTOMER]
    assert profile.consents.sms is False
    withdrawal = profile.consent_change("sms")
    assert (withdrawal.value, withdrawal.source.value) == (False, "reply_keyword")
    assert profile.tags["plan"] == "5G-199" and profile.tags["value_tier"] == "gold"  # merged, not replaced
    assert "opted_out#sms" in item(world)   # the item's other attributes stay

    assert_the_next_sms_campaign_is_suppressed(world)


def test_an_import_merges_into_what_events_wrote_and_reads_old_shape_profiles(stack, tmp_path):
    world = stack
    world.add_profiles(a_profile(CUSTOMER, intl_calls_90d=0))   # stored before consents were recorded
    world.publish(an_event("call.international", customer=CUSTOMER, country="JP"))
    world.run()

    code, _, err = import_lines(tmp_path, {"customer_id": CUSTOMER, "consents": {"email": False},
                                           "tags": {"segment": "business"}},
                                {"customer_id": "8613800000002", "msisdn": "+8613800000002",
                                 "consents": {"marketing": True, "sms": True}})
    assert (code, err) == (0, "")

    profile = world.profiles.get_profiles([CUSTOMER])[CUSTOMER]
    assert (profile.tags["intl_calls_90d"], profile.tags["segment"], profile.msisdn) == (1, "business", f"+{CUSTOMER}")
    assert len(profile.applied) == 1 and profile.consents.sms is True and profile.consents.email is False
    assert profile.consent_change("email").source.value == "import"
    new = world.profiles.get_profiles(["8613800000002"])["8613800000002"]
    assert new.consents.sms is True and new.consent_change("sms").source.value == "import"


def test_profiles_show_prints_the_withdrawal_with_its_source_and_time_and_a_products_expiry(stack, tmp_path):
    world = stack
    world.add_profiles(a_profile(CUSTOMER, roaming_pack=False))
    order = an_event("order.completed", customer=CUSTOMER, product="ROAM_7D")
    world.publish(order)
    world.run()
    inbound_sms(world, "TD", message_id="in-td")
    world.run()
    assert import_lines(tmp_path, {"customer_id": CUSTOMER, "consents": {"sms": True}})[0] == 0

    code, out, _ = run("profiles", "show", CUSTOMER, "--json")
    assert code == 0
    shown = json.loads(out)
    assert shown["tags"]["roaming_pack"] is True and shown["expiry"]["roaming_pack"] > order["occurred_at"]
    assert order["event_id"] in shown["applied"]
    sms = [c for c in shown["consent_history"] if c["channel"] == "sms"]
    assert [(c["value"], c["source"]) for c in sms] == [(False, "reply_keyword")] and sms[0]["at"]
    assert shown["consents"]["sms"] is False

    code, out, _ = run("profiles", "show", CUSTOMER)
    text = " ".join(out.replace("│", " ").split())
    withdrawn_at = datetime.fromisoformat(sms[0]["at"]).isoformat()
    assert code == 0
    assert "roaming_pack" in text and shown["expiry"]["roaming_pack"] in text
    assert f"sms false {withdrawn_at} reply_keyword" in text and order["event_id"] in text
    assert run("profiles", "show", "nobody")[0] == 1
