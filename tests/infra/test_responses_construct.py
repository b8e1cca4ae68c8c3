"""The Responses construct: the KMS-encrypted inbound-SMS topic that End User Messaging may publish to,
the responses function subscribed with its failure destination, the IAM-authorised, access-logged
offer API, and each function's least-privilege grants."""
from __future__ import annotations

import pytest

from tests.infra.helpers import mentions, refers_to
from marketing import resources
from tests.infra.test_iam import READ_TABLE, WRITE_TABLE, _statements, allows


@pytest.fixture(scope="module")
def topic(synth):
    return synth.by_property("AWS::SNS::Topic", "TopicName", synth.name("inbound-sms"))


def test_inbound_sms_topic_is_encrypted_with_the_key_and_refuses_plain_http(synth, topic):
    assert refers_to(synth.props(topic)["KmsMasterKeyId"], synth.key())
    policies = [p["Properties"] for p in synth.resources("AWS::SNS::TopicPolicy").values()
                if any(refers_to(t, topic) for t in p["Properties"]["Topics"])]
    statements = [s for p in policies for s in p["PolicyDocument"]["Statement"]]
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for s in statements)
    publish = [s for s in statements if s["Effect"] == "Allow" and s["Action"] == "sns:Publish"]
    assert [s["Principal"] for s in publish] == [{"Service": "sms-voice.amazonaws.com"}]
    assert "aws:SourceAccount" in publish[0]["Condition"]["StringEquals"]


def test_end_user_messaging_may_use_the_key_for_this_account_only(synth):
    statements = synth.props(synth.key())["KeyPolicy"]["Statement"]
    granted = [s for s in statements if s.get("Principal") == {"Service": "sms-voice.amazonaws.com"}]
    assert granted and "aws:SourceAccount" in granted[0]["Condition"]["StringEquals"]
    assert set(granted[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}


def test_responses_function_is_subscribed_and_dead_letters_failures(synth, topic):
    fn = synth.function("responses")
    subscriptions = [s["Properties"] for s in synth.resources("AWS::SNS::Subscription").values()
                     if refers_to(s["Properties"]["TopicArn"], topic)]
    assert [(s["Protocol"], refers_to(s["Endpoint"], fn)) for s in subscriptions] == [("lambda", True)]
    configs = [c["Properties"] for c in synth.resources("AWS::Lambda::EventInvokeConfig").values()
               if refers_to(c["Properties"]["FunctionName"], fn)]
    assert len(configs) == 1
    assert configs[0]["MaximumRetryAttempts"] == resources.RESPONDER.source.retry_attempts
    assert mentions(configs[0]["DestinationConfig"]["OnFailure"]["Destination"], synth.queue("responses-dlq"))


def test_offers_and_responses_tables_are_encrypted_and_indexed(synth):
    for logical in ("offers", "responses"):
        props = synth.props(synth.table(logical))
        assert refers_to(props["SSESpecification"]["KMSMasterKeyId"], synth.key())
    assert synth.props(synth.table("offers"))["TimeToLiveSpecification"]["AttributeName"] == "expires_at"
    assert [i["IndexName"] for i in synth.props(synth.table("responses"))["GlobalSecondaryIndexes"]] == ["by-campaign"]
    assert [i["IndexName"] for i in synth.props(synth.table("profiles"))["GlobalSecondaryIndexes"]] == ["by-msisdn"]


def test_offer_api_routes_need_iam_and_the_stage_logs_and_throttles(synth):
    fn = synth.function("offer-api")
    routes = [r["Properties"] for r in synth.resources("AWS::ApiGatewayV2::Route").values()]
    assert sorted(r["RouteKey"] for r in routes) == sorted(resources.OFFER_API.source.routes)
    assert all(r["AuthorizationType"] == "AWS_IAM" for r in routes)
    integrations = [i["Properties"] for i in synth.resources("AWS::ApiGatewayV2::Integration").values()]
    assert integrations and all(mentions(i["IntegrationUri"], fn) for i in integrations)
    (stage,) = [s["Properties"] for s in synth.resources("AWS::ApiGatewayV2::Stage").values()]
    assert "DestinationArn" in stage["AccessLogSettings"]
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] == resources.OFFER_API.source.throttle_rate


@pytest.fixture(scope="module")
def policy(synth):
    return {f: _statements(synth, f) for f in ("responses", "offer-api", "decide", "deliver")}


def test_responses_function_grants(synth, policy):
    p = policy["responses"]
    profiles = synth.table("profiles")
    assert allows(p, "dynamodb:Query", profiles) and allows(p, "dynamodb:UpdateItem", profiles)  # by-msisdn; opt-out
    assert allows(p, "dynamodb:Query", synth.table("contacts"))     # whose campaign a reply answers
    assert not any(allows(p, a, synth.table("contacts")) for a in WRITE_TABLE), "replies never write contacts"
    assert not any(allows(p, f"dynamodb:{a}", profiles) for a in ("DeleteItem", "Scan", "BatchWriteItem", "PutItem")), \
        "an opt-out updates one profile; nothing replaces, deletes or scans them"
    assert allows(p, "dynamodb:PutItem", synth.table("responses"))
    assert allows(p, "kinesis:PutRecords", synth.stream("customer-events"))
    for other in ("offers", "campaign-counters", "idempotency"):
        assert not any(allows(p, a, synth.table(other)) for a in READ_TABLE + WRITE_TABLE), other
    assert not allows(p, "sns:Publish", "*"), "the responses function sends no SMS"


def test_offer_api_grants(synth, policy):
    p = policy["offer-api"]
    offers = synth.table("offers")
    assert allows(p, "dynamodb:Query", offers) and allows(p, "dynamodb:UpdateItem", offers)
    assert allows(p, "dynamodb:PutItem", synth.table("responses"))
    assert not any(allows(p, a, synth.table("responses")) for a in READ_TABLE)
    assert allows(p, "kinesis:PutRecords", synth.stream("customer-events"))
    profiles = synth.table("profiles")
    assert allows(p, "dynamodb:BatchGetItem", profiles), "the tariff route reads the customer's usage"
    assert not any(allows(p, a, profiles) for a in WRITE_TABLE + ("dynamodb:Query", "dynamodb:Scan"))
    for other in ("contacts", "campaigns"):
        assert not any(allows(p, a, synth.table(other)) for a in READ_TABLE + WRITE_TABLE), other


def test_decide_reads_sessions_and_writes_attribution_deliver_writes_offers(synth, policy):
    offers, responses_table = synth.table("offers"), synth.table("responses")
    assert allows(policy["decide"], "dynamodb:BatchGetItem", offers) and allows(policy["decide"], "dynamodb:BatchWriteItem", offers)
    assert allows(policy["decide"], "dynamodb:PutItem", responses_table) and allows(policy["decide"], "dynamodb:Query", responses_table)
    assert not any(allows(policy["decide"], f"dynamodb:{a}", t) for a in ("DeleteItem", "Scan") for t in (offers, responses_table))
    assert allows(policy["deliver"], "dynamodb:PutItem", offers)
    assert not any(allows(policy["deliver"], a, offers) for a in READ_TABLE)
    assert not any(allows(policy["deliver"], a, responses_table) for a in READ_TABLE + WRITE_TABLE)


def test_decide_reads_the_touchpoints_file_from_the_layer(synth):
    env = synth.props(synth.function("decide"))["Environment"]["Variables"]
    assert "TOUCHPOINTS_PATH" not in env      # marketing/data/touchpoints.yaml, package data in the layer
    assert {"OFFERS_TABLE", "RESPONSES_TABLE"} <= set(env)
