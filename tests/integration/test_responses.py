"""Inbound touchpoints, two-way SMS, conversions and unsubscribes on the real handlers against moto.

Asserts what a user sees: SMS captured (or not), the offers table and the offer API's answer,
response records, events on the customer-events stream, the profile's consent, decision records.
"""
from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest

from marketing.adapters.aws_responses import DynamoOfferBoard, DynamoResponseStore
from marketing_tools.emulator.offer_api import LocalOfferApi
from tests.integration.world import a_campaign, a_profile, an_event, now_utc

CUSTOMER = "8613800000001"


def responses(world, campaign_id=None):
    store = DynamoResponseStore(world.client("dynamodb"), world.env["RESPONSES_TABLE"])
    records = store.for_campaign(campaign_id) if campaign_id else store.everything()
    return sorted((r.kind.value, r.group.value, r.channel) for r in records)


def stream_events(world, event_type):
    kinesis, name, out = world.client("kinesis"), world.env["CUSTOMER_EVENTS_STREAM"], []
    for shard in kinesis.list_shards(StreamName=name)["Shards"]:
        iterator = kinesis.get_shard_iterator(StreamName=name, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        out += [json.loads(r["Data"]) for r in kinesis.get_records(ShardIterator=iterator, Limit=1000)["Records"]]
    return [e for e in out if e["event_type"] == event_type]


def inbound_sms(world, body, message_id="in-1", sender=f"+{CUSTOMER}"):
    """What AWS End User Messaging publishes to the two-way SMS topic."""
    world.client("sns").publish(TopicArn=world.env["INBOUND_SMS_TOPIC_ARN"], Message=json.dumps({
        "originationNumber": sender, "destinationNumber": "+12065550142", "messageKeyword": "KEYWORD_123",
        "messageBody": body, "inboundMessageId": message_id, "previousPublishedMessageId": "out-1"}))


def assert_the_next_sms_campaign_is_suppressed(world, customer: str = CUSTOMER) -> None:
    """The customer opted out of SMS: the next campaign's event is `suppressed/opt_out`, and the one
    SMS the customer received stays the only one."""
    nxt = an_event(customer=customer, area="PVG_T2")
    world.publish(nxt)
    world.run()
    record = world.decision(nxt, "next-campaign")
    assert (record["outcome"], record["reason"]) == ("suppressed", "opt_out")
    assert len(world.sms()) == 1


@pytest.fixture
def sent(world):
    """The customer was sent the roaming offer by SMS (reply code Y7); another campaign is live too."""
    world.add_campaigns(a_campaign("roam", limits={"per_customer": 5}), a_campaign("next-campaign", area="PVG_T2"))
    world.add_profiles(a_profile(CUSTOMER))
    first = an_event(customer=CUSTOMER)
    world.publish(first)
    world.run()
    assert len(world.sms()) == 1
    return first


def test_in_a_store_session_the_offer_goes_to_the_store_not_by_sms(world):
    world.add_campaigns(a_campaign("roam"))
    world.add_profiles(a_profile(CUSTOMER))
    world.publish(an_event("store.visit", customer=CUSTOMER, store_id="BJ-001", age=timedelta(minutes=5)))
    airport = an_event(customer=CUSTOMER)
    world.publish(airport)
    world.run()

    assert world.sms() == []
    record = world.decision(airport, "roam")
    assert (record["outcome"], record["channel"]) == ("sent", "store")
    rows = DynamoOfferBoard(world.client("dynamodb"), world.env["OFFERS_TABLE"]).open_offers(CUSTOMER, "store")
    assert [(r["campaign_id"], r["status"], r["offer_code"]) for r in rows] == [("roam", "open", "ROAM_7D")]

    api = LocalOfferApi(world.env)
    status, offer = api.current(CUSTOMER, "store")
    assert status == 200 and offer["campaign_id"] == "roam" and "30" in offer["text"]
    assert api.current(CUSTOMER, "care")[0] == 404
    status, answered = api.answer(CUSTOMER, "store", accept=True)
    assert (status, answered["status"]) == (200, "accepted")
    assert api.answer(CUSTOMER, "store", accept=False)[0] == 404   # answered: no open offer left
    assert responses(world, "roam") == [("accepted", "treated", "store"), ("presented", "treated", "store")]
    orders = stream_events(world, "order.requested")
    assert [(o["customer_id"], o["attributes"]["product"], o["attributes"]["channel"]) for o in orders] == \
        [(CUSTOMER, "ROAM_7D", "store")]


def test_without_a_session_the_sms_goes_out_and_no_offer_waits(world):
    world.add_campaigns(a_campaign("roam"))
    world.add_profiles(a_profile(CUSTOMER))
    world.publish(an_event("store.visit", customer=CUSTOMER, store_id="BJ-001", age=timedelta(hours=2)))  # over
    world.publish(an_event(customer=CUSTOMER))
    world.run()
    assert len(world.sms()) == 1
    assert DynamoOfferBoard(world.client("dynamodb"), world.env["OFFERS_TABLE"]).open_offers(CUSTOMER, "store") == []


def test_a_reply_with_the_reply_code_requests_the_order_and_is_a_response(world, sent):
    inbound_sms(world, " y7 ")
    world.run()
    orders = stream_events(world, "order.requested")
    assert [(o["event_id"], o["attributes"]["product"], o["attributes"]["reply_code"]) for o in orders] == \
        [("sms-in-1", "ROAM_7D", "Y7")]
    assert responses(world, "roam") == [("response", "treated", "sms")]

    inbound_sms(world, "Y7")  # SNS re-delivers the same inbound message: nothing new
    world.run()
    assert len(stream_events(world, "order.requested")) == 1
    assert responses(world, "roam") == [("response", "treated", "sms")]


def test_td_opts_out_at_once_and_the_next_sms_is_suppressed_opt_out(world, sent):
    inbound_sms(world, "td", message_id="in-2")
    world.run()
    profile = world.profiles.get_profiles([CUSTOMER])[CUSTOMER]
    assert profile.consents.sms is False
    item = world.client("dynamodb").get_item(TableName=world.env["PROFILES_TABLE"],
                                             Key={"customer_id": {"S": CUSTOMER}})["Item"]
    assert "opted_out#sms" in item

    assert_the_next_sms_campaign_is_suppressed(world)


@pytest.mark.parametrize("word", ["STOP", "退订", " Td\n"])
def test_every_opt_out_keyword_withdraws_sms_consent(world, sent, word):
    inbound_sms(world, word, message_id="in-3")
    world.run()
    assert world.profiles.get_profiles([CUSTOMER])[CUSTOMER].consents.sms is False


def converting(campaign_id, **kwargs):
    campaign = a_campaign(campaign_id, **kwargs)
    campaign["conversion"] = {"event": "order.completed", "where": {"product": "ROAM_7D"}, "window": "7d"}
    return campaign


def test_a_conversion_within_the_window_is_attributed_to_the_contact(world):
    world.add_campaigns(converting("roam"))
    world.add_profiles(a_profile(CUSTOMER))
    world.publish(an_event(customer=CUSTOMER))
    world.run()
    world.publish(an_event("order.completed", customer=CUSTOMER, product="OTHER"),
                  an_event("order.completed", customer=CUSTOMER, product="ROAM_7D"))
    world.run()
    assert responses(world, "roam") == [("conversion", "treated", "sms")]


def test_a_holdout_customer_s_conversion_is_attributed_to_the_holdout_record(world):
    campaign = converting("roam")
    campaign["control_group"] = "100%"
    world.add_campaigns(campaign)
    world.add_profiles(a_profile(CUSTOMER))
    first = an_event(customer=CUSTOMER)
    world.publish(first)
    world.run()
    assert world.decision(first, "roam")["outcome"] == "holdout" and world.sms() == []
    world.publish(an_event("order.completed", customer=CUSTOMER, product="ROAM_7D"))
    world.run()
    assert responses(world, "roam") == [("conversion", "holdout", None)]


def test_a_conversion_outside_the_window_is_not_attributed(world):
    world.add_campaigns(converting("roam"))
    world.add_profiles(a_profile(CUSTOMER))
    world.publish(an_event(customer=CUSTOMER))
    world.run()
    world.publish(an_event("order.completed", customer=CUSTOMER, product="ROAM_7D", age=timedelta(days=1)))  # before
    world.run()
    assert responses(world, "roam") == []


def test_an_opt_out_within_7_days_of_an_accepted_offer_is_an_unsubscribe(world, sent):
    inbound_sms(world, "Y7", message_id="in-4")
    world.run()
    inbound_sms(world, "退订", message_id="in-5")
    world.run()
    assert responses(world, "roam") == [("response", "treated", "sms"), ("unsubscribe", "treated", "sms")]


# ---------------------------------------------------------------- the command line


def test_cli_offers_get_accept_and_sms_reply(world, monkeypatch, tmp_path):
    from typer.testing import CliRunner

    import marketing_tools.cli.target
    from marketing_tools.cli.main import app
    from marketing_tools.cli.target import Target

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(marketing_tools.cli.target, "resolve_target", lambda name: Target(world.env, None, "local"))
    world.add_campaigns(a_campaign("roam"))
    world.add_profiles(a_profile(CUSTOMER))
    world.publish(an_event("care.call_started", customer=CUSTOMER, queue="10086"), an_event(customer=CUSTOMER))
    world.run()

    def run(*args):
        result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
        return result.exit_code, result.stdout

    code, out = run("offers", "get", CUSTOMER, "--touchpoint", "care")
    assert code == 0 and json.loads(out)["campaign_id"] == "roam" and json.loads(out)["status"] == "presented"
    assert run("offers", "get", CUSTOMER, "--touchpoint", "store")[0] == 1
    code, out = run("offers", "decline", CUSTOMER, "-t", "care")
    assert code == 0 and json.loads(out)["status"] == "declined"
    assert world.sms() == []
    code, out = run("responses", "--campaign", "roam", "--json")
    assert sorted(json.loads(line)["kind"] for line in out.splitlines()) == ["declined", "presented"]

    assert run("sms", "reply", f"+{CUSTOMER}", "TD")[0] == 0
    world.run()
    assert world.profiles.get_profiles([CUSTOMER])[CUSTOMER].consents.sms is False


def test_the_local_http_front_serves_the_offer_api(world):
    import urllib.error
    import urllib.request

    from marketing_tools.emulator.offer_api import serve_http

    world.add_campaigns(a_campaign("roam"))
    world.add_profiles(a_profile(CUSTOMER))
    world.publish(an_event("web.page_view", customer=CUSTOMER, url="/5g"), an_event(customer=CUSTOMER))
    world.run()
    server = serve_http(LocalOfferApi(world.env))
    base = f"http://127.0.0.1:{server.server_address[1]}/customers/{CUSTOMER}/offers"
    try:
        with urllib.request.urlopen(f"{base}/web", timeout=5) as response:
            assert response.status == 200 and json.loads(response.read())["campaign_id"] == "roam"
        request = urllib.request.Request(f"{base}/web", data=json.dumps({"response": "maybe"}).encode(),
                                         method="POST", headers={"content-type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 400
    finally:
        server.shutdown()


def test_a_global_control_customer_s_conversion_is_attributed_as_holdout(world, monkeypatch, tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text("global_control_group: 100%\nquiet_hours: null\n")
    monkeypatch.setenv("CONTACT_POLICY_PATH", str(policy))
    world.add_campaigns(converting("roam"))
    world.add_profiles(a_profile(CUSTOMER))
    first = an_event(customer=CUSTOMER)
    world.publish(first)
    world.run()
    assert (world.decision(first, "roam")["reason"], world.sms()) == ("global_control", [])
    world.publish(an_event("order.completed", customer=CUSTOMER, product="ROAM_7D"))
    world.run()
    assert responses(world, "roam") == [("conversion", "holdout", None)]


def test_the_customer_view_shows_contacts_responses_consents_from_the_customers_keys(world, sent, monkeypatch):
    import marketing_tools.cli.target as cli_target
    from typer.testing import CliRunner

    from marketing_tools.cli.main import app
    from marketing_tools.cli.target import Target

    inbound_sms(world, "Y7")
    world.run()
    inbound_sms(world, "TD", message_id="in-2")
    world.run()
    monkeypatch.setattr(cli_target, "resolve_target", lambda stack: Target(world.env, None, "local"))
    scans: list[str] = []   # a view never scans a table: it reads by the customer's key
    boto3.DEFAULT_SESSION.events.register("before-call.dynamodb.Scan", lambda params, **_: scans.append(params["TableName"]))

    result = CliRunner().invoke(app, ["customer", "view", CUSTOMER, "--json"])

    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = [r["record"] for r in records]
    assert kinds[0] == "profile" and records[0]["consents"]["sms"] is False      # the opt-out, as stored
    assert [(r["campaign_id"], r["channel"]) for r in records if r["record"] == "contact"] == [("roam", "sms")]
    assert sorted(r["kind"] for r in records if r["record"] == "response") == ["response", "unsubscribe"]
    assert scans == []
    table = CliRunner().invoke(app, ["customer", "view", CUSTOMER], env={"COLUMNS": "100"})
    assert table.exit_code == 0 and "1 contact(s)" in table.output and "2 response(s)" in table.output
    assert CliRunner().invoke(app, ["customer", "view", "8613899999999"]).exit_code == 1


def test_kpis_from_the_stacks_own_records(world, monkeypatch):
    import marketing_tools.cli.target as cli_target
    from typer.testing import CliRunner

    from marketing.adapters.aws_lifecycle import DynamoAuditTrail
    from marketing_tools.cli.main import app
    from marketing_tools.cli.target import Target

    other = "8613800000002"
    world.add_campaigns(converting("roam"))
    world.add_profiles(a_profile(CUSTOMER), a_profile(other))
    world.publish(an_event(customer=CUSTOMER), an_event(customer=other))
    world.run()
    world.publish(an_event("order.completed", customer=CUSTOMER, product="ROAM_7D"))   # converts
    world.run()
    inbound_sms(world, "Y7", message_id="o-1", sender=f"+{other}")                    # accepts, then opts out
    world.run()
    inbound_sms(world, "TD", message_id="o-2", sender=f"+{other}")
    world.run()
    audit = DynamoAuditTrail(world.client("dynamodb"), world.env["AUDIT_TABLE"])
    submitted = now_utc() - timedelta(hours=5)
    audit.append("roam", {"at": submitted.isoformat(), "action": "submitted", "by": "ann"})
    audit.append("roam", {"at": (submitted + timedelta(hours=3)).isoformat(), "action": "activated", "by": "workflow"})
    monkeypatch.setattr(cli_target, "resolve_target", lambda stack: Target(world.env, None, "local"))

    result = CliRunner().invoke(app, ["kpis", "--json"])

    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert (figures["contacts"], figures["customers_contacted"]) == (2, 2)
    assert figures["success_rate"] == 0.5 and figures["unsubscribe_rate_7d"] == 0.5
    assert figures["touches_per_subscriber_month"] == 1.0
    assert figures["lead_time_hours_median"] == pytest.approx(3.0) and figures["campaigns_launched"] == 1
    assert CliRunner().invoke(app, ["kpis"], env={"COLUMNS": "100"}).exit_code == 0
