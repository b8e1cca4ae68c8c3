"""Channels and delivery on the real handlers against moto: what each channel's provider received
(SES raw email, SNS SMS and push), paced sends, provider failures, the live policy copy, and the
consent re-check when a held contact is released."""
from __future__ import annotations

import email
import email.policy
import json
import os
import time
from datetime import datetime, timedelta, timezone

import boto3
from botocore.awsrequest import AWSResponse

from marketing.adapters.aws import DynamoPolicyStore, from_item
from marketing.domain import unsubscribe
from marketing.domain.decisions import current_records
from marketing.domain.models import Outcome, Reason
from marketing_tools.emulator.account import ACCOUNT, REGION
from tests.integration.world import QuietWindow, a_campaign, a_profile, an_event

LI_LEI = "8613800000001"


def provider_error(code: str, times: int | None = None, when=lambda params: True):
    """A botocore hook answering a call with the provider error `code` (`times` times, or always)."""
    state = {"left": times}

    def hook(params, **_):
        if not when(params) or state["left"] == 0:
            return None
        if state["left"] is not None:
            state["left"] -= 1
        return AWSResponse("https://sns.local", 400, {}, None), {
            "Error": {"Code": code, "Message": f"simulated {code}"}, "ResponseMetadata": {"HTTPStatusCode": 400}}
    return hook


def until_delivered(world, timeout_s: float = 30) -> None:
    """Run the pipeline until the delivery queue is empty (held, paced and retried messages included)."""
    deadline = time.monotonic() + timeout_s
    world.run()
    while world.messages_on("DELIVERY_QUEUE_URL") and time.monotonic() < deadline:
        time.sleep(0.3)
        world.run()
    assert world.messages_on("DELIVERY_QUEUE_URL") == 0, "the delivery queue did not drain"


def standing(world, event) -> dict:
    return current_records(world.decisions(event["event_id"]))[f"{event['customer_id']}:{event['event_id']}:roam-offer"]


# ------------------------------------------------------------------ email


def test_an_ses_email_has_both_bodies_the_offer_and_the_unsubscribe_header(world):
    world.add_campaigns(a_campaign(channels=[{"email": {
        "subject": "{name}：出境漫游包", "text": "{name}您好，7天漫游包{offer_value}元，产品代码{offer_code}。",
        "html": "<p>{name}您好，7天漫游包<b>{offer_value}元</b>，产品代码{offer_code}。</p>"}}]))
    world.add_profiles(a_profile(LI_LEI, name="李<雷>", email="li.lei@example.com"))
    event = an_event()

    world.publish(event)
    world.run()

    [sent] = world.emails()
    assert sent.destinations == ["li.lei@example.com"]
    mail = email.message_from_string(sent.raw_data, policy=email.policy.default)
    assert mail["Subject"] == "李<雷>：出境漫游包"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "李<雷>您好，7天漫游包30元，产品代码ROAM_7D。" in text
    assert "李&lt;雷&gt;您好，7天漫游包<b>30元</b>，产品代码ROAM_7D。" in html   # autoescaped profile value
    link = mail["List-Unsubscribe"].strip("<>")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link in text and f'href="{link}"' in html.replace("&amp;", "&")
    token = link.split("t=", 1)[1]
    assert unsubscribe.read_token(world.env["UNSUBSCRIBE_SECRET"].encode(), token) == (LI_LEI, "roam-offer")
    assert world.decision(event, "roam-offer")["channel"] == "email"


# ------------------------------------------------------------------ push


def push_endpoint(enabled: bool = True) -> str:
    sns = boto3.client("sns", region_name=REGION)
    app = sns.create_platform_application(Name="marketing-app", Platform="GCM",
                                          Attributes={"PlatformCredential": "key"})["PlatformApplicationArn"]
    arn = sns.create_platform_endpoint(PlatformApplicationArn=app, Token=f"device-{enabled}")["EndpointArn"]
    if not enabled:
        sns.set_endpoint_attributes(EndpointArn=arn, Attributes={"Enabled": "false"})
    return arn


def pushed(arn: str) -> list[dict]:
    from moto.sns.models import sns_backends

    endpoint = sns_backends[ACCOUNT][REGION].platform_endpoints[arn]
    return [json.loads(m) for m in endpoint.messages.values()]


def push_world(world, arn: str):
    os.environ["DELIVERY_CHANNELS"] = "sms,email,app_push"
    world.add_campaigns(a_campaign(channels=[{"app_push": {"title": "出境漫游", "body": "{name}，7天漫游包{offer_value}元"}},
                                             {"sms": {"text": "{name}您好"}}]))
    world.add_profiles({**a_profile(LI_LEI, consents={"app_push": True}, channel_preference=["app_push", "sms"]),
                        "push_endpoint": arn})


def test_app_push_goes_to_the_customers_platform_endpoint(world):
    arn = push_endpoint()
    push_world(world, arn)
    event = an_event()

    world.publish(event)
    world.run()

    [message] = pushed(arn)
    assert message["default"] == "李雷，7天漫游包30元"
    assert json.loads(message["GCM"])["notification"] == {"title": "出境漫游", "body": "李雷，7天漫游包30元"}
    assert json.loads(message["GCM"])["data"]["offer_code"] == "ROAM_7D"
    assert world.sms() == []
    assert world.decision(event, "roam-offer")["channel"] == "app_push"


def test_a_permanent_provider_refusal_is_failed_with_the_providers_reason(world):
    arn = push_endpoint(enabled=False)
    push_world(world, arn)
    event = an_event()

    world.publish(event)
    world.run()

    record = standing(world, event)
    assert (record["outcome"], record["reason"]) == (Outcome.FAILED, Reason.PROVIDER)
    assert "EndpointDisabled" in record["detail"]
    assert world.messages_on("DELIVERY_DLQ_URL") == 0, "a permanent refusal is decided, not retried"


# ------------------------------------------------------------------ SMS


def test_sms_carry_the_sms_type_and_the_sender(world):
    os.environ.update({"SMS_TYPE": "Transactional", "SMS_SENDER_ID": "CMCC", "SMS_ORIGINATION_NUMBER": "+10690000"})
    requests = []
    boto3.DEFAULT_SESSION.events.register("provide-client-params.sns.Publish", lambda params, **_: requests.append(params))
    world.add_campaigns(a_campaign())
    world.add_profiles(a_profile(LI_LEI))

    world.publish(an_event())
    world.run()

    assert world.sms() == [(f"+{LI_LEI}", "李雷您好，7天漫游包30元，回复Y7开通。")]
    [request] = requests
    assert request["PhoneNumber"] == f"+{LI_LEI}"
    assert {k: v["StringValue"] for k, v in request["MessageAttributes"].items()} == {
        "AWS.SNS.SMS.SMSType": "Transactional", "AWS.SNS.SMS.SenderID": "CMCC",
        "AWS.MM.SMS.OriginationNumber": "+10690000"}


# ------------------------------------------------------------------ send-rate limits


def test_a_burst_never_exceeds_the_senders_rate(world, policy):
    policy(send_rates={"sms": {"long_code": 2, "default": 100}})
    os.environ.update({"SMS_SENDER": "long_code", "PACING_HORIZON_SECONDS": "1"})
    customers = [f"86138000001{i:02d}" for i in range(7)]
    world.add_campaigns(a_campaign())
    world.add_profiles(*[a_profile(c) for c in customers])

    world.publish(*[an_event(customer=c) for c in customers])
    until_delivered(world)

    assert sorted(number for number, _ in world.sms()) == sorted(f"+{c}" for c in customers)
    windows = [from_item(i) for i in world.client("dynamodb").scan(TableName=world.env["SEND_RATES_TABLE"])["Items"]]
    assert all(w["bucket"].startswith("sms:long_code#") for w in windows)
    # no one-second window handed out more than 2 sends: 7 sends took at least 4 windows
    assert sum(w["sent"] for w in windows) == 7 and max(w["sent"] for w in windows) == 2 and len(windows) >= 4
    # and the sends really waited for them: the 7th goes out 3 windows after the 1st (the contact is
    # recorded just after its send, so a record can slip past its window's end; hence the slack)
    times = sorted(datetime.fromisoformat(c["at"]).timestamp() for cust in customers for c in world.contacts(cust))
    assert len(times) == 7 and times[-1] - times[0] >= 1.5, times


# ------------------------------------------------------------------ failures and retries


def test_a_transient_error_is_retried_within_the_invocation(world):
    os.environ["DELIVERY_RETRY_BACKOFF_SECONDS"] = "0.01"
    boto3.DEFAULT_SESSION.events.register("before-call.sns.Publish", provider_error("Throttling", times=2))
    world.add_campaigns(a_campaign())
    world.add_profiles(a_profile(LI_LEI))
    event = an_event()

    world.publish(event)
    world.run()

    assert len(world.sms()) == 1
    assert world.start().pollers["deliver"].invocations == 1
    assert standing(world, event)["outcome"] == Outcome.SENT


def test_a_message_that_keeps_failing_lands_in_the_delivery_dlq(world):
    os.environ["DELIVERY_RETRY_BACKOFF_SECONDS"] = "0.01"
    boto3.DEFAULT_SESSION.events.register("before-call.sns.Publish", provider_error("ServiceUnavailable"))
    world.add_campaigns(a_campaign())
    world.add_profiles(a_profile(LI_LEI))
    event = an_event()

    world.publish(event)
    until_delivered(world, timeout_s=60)

    assert world.sms() == []
    sqs = world.client("sqs")
    [dead] = sqs.receive_message(QueueUrl=world.env["DELIVERY_DLQ_URL"], MaxNumberOfMessages=10,
                                 AttributeNames=["All"])["Messages"]
    assert json.loads(dead["Body"])["event_id"] == event["event_id"]
    assert int(dead["Attributes"]["ApproximateReceiveCount"]) >= 5   # the queue's maxReceiveCount


def test_nothing_is_sent_twice_when_a_batch_is_retried(world):
    os.environ["DELIVERY_RETRY_ATTEMPTS"] = "1"   # a transient error fails the message at once: SQS retries it
    han = "8613800000002"
    boto3.DEFAULT_SESSION.events.register("before-call.sns.Publish", provider_error(
        "Throttling", times=1, when=lambda request: request["body"].get("PhoneNumber") == f"+{han}"))
    world.add_campaigns(a_campaign())
    world.add_profiles(a_profile(LI_LEI), a_profile(han, name="韩梅梅"))

    world.publish(an_event(customer=LI_LEI), an_event(customer=han))
    until_delivered(world)

    assert sorted(number for number, _ in world.sms()) == [f"+{LI_LEI}", f"+{han}"]
    assert world.start().pollers["deliver"].invocations >= 2, "the failed message came back"


# ------------------------------------------------------------------ the live policy copy


def test_pushing_a_stricter_policy_changes_decisions_without_a_restart(world):
    os.environ["POLICY_CACHE_SECONDS"] = "0"
    world.add_campaigns(a_campaign("first", area="PEK_T3"), a_campaign("second", area="PVG_T2"))
    world.add_profiles(a_profile(LI_LEI))
    one, two = an_event(area="PEK_T3"), an_event(area="PVG_T2")

    world.publish(one)
    world.run()
    DynamoPolicyStore(world.client("dynamodb"), world.env["SETTINGS_TABLE"]).put_policy(
        {"caps": {"all": {"day": 0}}, "quiet_hours": None, "complaint_suppression_days": 0}, by="ops")  # no more contacts today
    world.publish(two)
    world.run()

    assert world.decision(one, "first")["outcome"] == Outcome.SENT
    record = world.decision(two, "second")
    assert (record["outcome"], record["reason"], record["detail"]) == (Outcome.THROTTLED, Reason.CAP, "day.all")
    assert len(world.sms()) == 1


# ------------------------------------------------------------------ held contacts re-checked on release


def test_a_customer_who_opts_out_while_held_is_suppressed_not_sent(world, policy):
    quiet = QuietWindow()
    policy(quiet_hours=quiet.hours)
    world.add_campaigns(a_campaign())
    world.add_profiles({**a_profile(LI_LEI), "timezone": "UTC"})
    event = an_event()

    world.publish(event)
    world.run()
    assert world.decision(event, "roam-offer")["outcome"] == Outcome.DEFERRED
    world.add_profiles({**a_profile(LI_LEI, consents={"sms": False}), "timezone": "UTC"})  # TD meanwhile
    quiet.wait()
    until_delivered(world)

    assert world.sms() == []
    record = standing(world, event)
    assert (record["outcome"], record["reason"]) == (Outcome.SUPPRESSED, Reason.OPT_OUT)


# ------------------------------------------------------------------ the channel preference model


def test_the_channel_the_customer_answers_on_is_chosen(world):
    world.add_campaigns(a_campaign(channels=[{"sms": {"text": "{name}您好"}},
                                             {"email": {"subject": "漫游包", "text": "{name}您好"}}]))
    world.add_profiles(a_profile(LI_LEI, email="li.lei@example.com", channel_preference=["sms", "email"]))
    earlier = datetime.now(timezone.utc) - timedelta(days=3)
    world.ledger.record_delivery(LI_LEI, "older", "evt-old-1", "email", earlier)
    world.ledger.record_response(LI_LEI, "older", "email", earlier + timedelta(hours=1))
    event = an_event()

    world.publish(event)
    world.run()

    assert world.decision(event, "roam-offer")["channel"] == "email"
    assert len(world.emails()) == 1 and world.sms() == []


def test_the_dynamodb_ledger_keeps_the_history_the_model_reads(world):
    from marketing.domain.channels import ChannelHistory
    from marketing.domain.models import Channel

    at = datetime.now(timezone.utc)
    world.ledger.record_delivery(LI_LEI, "camp", "e1", "sms", at)
    world.ledger.record_delivery(LI_LEI, "camp", "e1", "sms", at)   # the same contact again: counted once
    world.ledger.record_delivery(LI_LEI, "camp", "e2", "email", at)
    world.ledger.record_response(LI_LEI, "camp", "email", at)
    world.ledger.record_complaint(LI_LEI, at + timedelta(days=30), channel="sms")
    assert world.ledger.channel_history(LI_LEI) == ChannelHistory(
        {Channel.SMS: 1, Channel.EMAIL: 1}, {Channel.EMAIL: 1}, frozenset({Channel.SMS}))
    assert world.ledger.channel_history("nobody") == ChannelHistory()


def test_a_deployed_deliver_reads_the_unsubscribe_key_from_secrets_manager(world):
    key = "generated-at-deploy-0123456789abcdef"
    arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="marketing-deliver-unsubscribe-key", SecretString=key)["ARN"]
    world.env.pop("UNSUBSCRIBE_SECRET")
    os.environ.pop("UNSUBSCRIBE_SECRET", None)
    world.env["UNSUBSCRIBE_SECRET_ARN"] = arn
    world.add_campaigns(a_campaign(channels=[{"email": {"subject": "漫游包", "text": "{name}您好"}}]))
    world.add_profiles(a_profile(LI_LEI, email="li.lei@example.com"))

    world.publish(an_event())
    world.run()

    [sent] = world.emails()
    mail = email.message_from_string(sent.raw_data, policy=email.policy.default)
    token = mail["List-Unsubscribe"].strip("<>").split("t=", 1)[1]
    assert unsubscribe.read_token(key.encode(), token) == (LI_LEI, "roam-offer")


def test_a_complaint_while_held_suppresses_the_released_contact(world, policy):
    quiet = QuietWindow()
    policy(quiet_hours=quiet.hours, complaint_suppression_days=30)
    world.add_campaigns(a_campaign())
    world.add_profiles({**a_profile(LI_LEI), "timezone": "UTC"})
    event = an_event()

    world.publish(event)
    world.run()
    world.publish(an_event("care.complaint", category="marketing"))
    world.run()
    quiet.wait()
    until_delivered(world)

    assert world.sms() == []
    record = standing(world, event)
    assert (record["outcome"], record["reason"]) == (Outcome.SUPPRESSED, Reason.COMPLAINT)
