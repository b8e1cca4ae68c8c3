"""The local half of "one source of truth": everything the synthesized template declares (tables with
their keys, indexes and TTL; streams; queues with their timeouts and redrive) exists in the local
stack that `marketing local up` and `marketing demo` create, with the same settings."""
from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from tests.infra.helpers import STACK_NAME
from marketing_tools.emulator.stack import create_stack


@pytest.fixture(scope="module")
def local(synth):
    with mock_aws():
        env = create_stack(None, prefix=STACK_NAME)
        yield {
            "env": env,
            "dynamodb": boto3.client("dynamodb", region_name="us-east-1"),
            "kinesis": boto3.client("kinesis", region_name="us-east-1"),
            "sqs": boto3.client("sqs", region_name="us-east-1"),
        }


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


def _declared(synth, type_: str) -> list[dict]:
    return [synth.props(logical_id) for logical_id in synth.resources(type_)]


def test_every_table_exists_locally_with_the_same_keys_indexes_and_ttl(synth, local):
    tables = _declared(synth, "AWS::DynamoDB::Table")
    assert tables, "the template declares no table"
    for props in tables:
        described = local["dynamodb"].describe_table(TableName=props["TableName"])["Table"]
        assert described["KeySchema"] == props["KeySchema"], props["TableName"]
        local_types = {a["AttributeName"]: a["AttributeType"] for a in described["AttributeDefinitions"]}
        for attribute in props["AttributeDefinitions"]:
            assert local_types[attribute["AttributeName"]] == attribute["AttributeType"], props["TableName"]
        declared_indexes = {i["IndexName"]: i["KeySchema"] for i in props.get("GlobalSecondaryIndexes", [])}
        local_indexes = {i["IndexName"]: i["KeySchema"] for i in described.get("GlobalSecondaryIndexes", [])}
        assert local_indexes == declared_indexes, props["TableName"]
        ttl = local["dynamodb"].describe_time_to_live(TableName=props["TableName"])["TimeToLiveDescription"]
        if "TimeToLiveSpecification" in props:
            assert ttl.get("AttributeName") == props["TimeToLiveSpecification"]["AttributeName"]
            assert ttl["TimeToLiveStatus"] == "ENABLED"
        else:
            assert ttl["TimeToLiveStatus"] == "DISABLED"


def test_every_stream_exists_locally_with_the_same_shards(synth, local):
    for props in _declared(synth, "AWS::Kinesis::Stream"):
        summary = local["kinesis"].describe_stream_summary(StreamName=props["Name"])["StreamDescriptionSummary"]
        assert summary["OpenShardCount"] == props["ShardCount"], props["Name"]


def test_every_queue_exists_locally_with_the_same_settings_and_redrive(synth, local):
    queues = _declared(synth, "AWS::SQS::Queue")
    names = {logical_id: props["QueueName"] for logical_id, props in
             ((lid, synth.props(lid)) for lid in synth.resources("AWS::SQS::Queue"))}
    for props in queues:
        url = local["sqs"].get_queue_url(QueueName=props["QueueName"])["QueueUrl"]
        attributes = local["sqs"].get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert int(attributes["VisibilityTimeout"]) == props.get("VisibilityTimeout", 30), props["QueueName"]
        assert int(attributes["MessageRetentionPeriod"]) == props.get("MessageRetentionPeriod", 345600)
        if "RedrivePolicy" in props:
            local_redrive = json.loads(attributes["RedrivePolicy"])
            target = props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
            assert local_redrive["deadLetterTargetArn"].endswith(":" + names[target])
            assert int(local_redrive["maxReceiveCount"]) == props["RedrivePolicy"]["maxReceiveCount"]
        else:
            assert "RedrivePolicy" not in attributes


def test_the_local_environment_names_every_resource_the_functions_read(synth, local):
    declared_env: set[str] = set()
    for logical_id in synth.resources("AWS::Lambda::Function"):
        declared_env |= set(synth.props(logical_id).get("Environment", {}).get("Variables", {}))
    resource_env = {name for name in declared_env if name.endswith(("_TABLE", "_STREAM", "_URL", "_BUCKET", "_FIREHOSE"))}
    assert resource_env and resource_env <= set(local["env"])
