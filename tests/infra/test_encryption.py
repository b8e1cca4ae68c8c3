"""Every store and channel is encrypted with the stack's one customer-managed key, and TLS-only."""
from __future__ import annotations

import json

from tests.infra.helpers import mentions, refers_to


def test_one_customer_managed_key_with_rotation(synth):
    synth.key()   # exactly one
    synth.template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_streams_use_the_customer_key(synth):
    streams = synth.resources("AWS::Kinesis::Stream")
    assert streams
    for logical_id, stream in streams.items():
        encryption = stream["Properties"]["StreamEncryption"]
        assert encryption["EncryptionType"] == "KMS", logical_id
        assert refers_to(encryption["KeyId"], synth.key()), logical_id


def test_tables_use_the_customer_key_pitr_and_on_demand(synth):
    tables = synth.resources("AWS::DynamoDB::Table")
    assert tables
    for logical_id, table in tables.items():
        props = table["Properties"]
        sse = props["SSESpecification"]
        assert sse["SSEEnabled"] is True and sse["SSEType"] == "KMS", logical_id
        assert refers_to(sse["KMSMasterKeyId"], synth.key()), logical_id
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, logical_id
        assert props["BillingMode"] == "PAY_PER_REQUEST", logical_id


def _denies_insecure_transport(policy_document: dict) -> bool:
    return any(s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
               for s in policy_document["Statement"])


def _policies_of(synth, policy_type: str, list_property: str, logical_id: str) -> list[dict]:
    return [p["Properties"]["PolicyDocument"] for p in synth.resources(policy_type).values()
            if any(refers_to(target, logical_id) for target in p["Properties"][list_property])]


def test_queues_use_the_customer_key_and_tls(synth):
    queues = synth.resources("AWS::SQS::Queue")
    assert queues
    for logical_id, queue in queues.items():
        assert refers_to(queue["Properties"]["KmsMasterKeyId"], synth.key()), logical_id
        documents = _policies_of(synth, "AWS::SQS::QueuePolicy", "Queues", logical_id)
        assert any(_denies_insecure_transport(d) for d in documents), f"{logical_id} accepts plain HTTP"


def test_topics_use_the_customer_key_and_tls(synth):
    topics = synth.resources("AWS::SNS::Topic")
    assert topics
    for logical_id, topic in topics.items():
        assert refers_to(topic["Properties"]["KmsMasterKeyId"], synth.key()), logical_id
        documents = _policies_of(synth, "AWS::SNS::TopicPolicy", "Topics", logical_id)
        assert any(_denies_insecure_transport(d) for d in documents), f"{logical_id} accepts plain HTTP"


def _access_log_buckets(synth) -> set[str]:
    return {b["Properties"]["LoggingConfiguration"]["DestinationBucketName"]["Ref"]
            for b in synth.resources("AWS::S3::Bucket").values()
            if "LoggingConfiguration" in b["Properties"]}


def test_buckets_private_versioned_tls_only(synth):
    buckets = synth.resources("AWS::S3::Bucket")
    assert len(buckets) >= 3
    for logical_id, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True}, logical_id
        assert props["VersioningConfiguration"]["Status"] == "Enabled", logical_id
        documents = [p["Properties"]["PolicyDocument"] for p in synth.resources("AWS::S3::BucketPolicy").values()
                     if refers_to(p["Properties"]["Bucket"], logical_id)]
        assert any(_denies_insecure_transport(d) for d in documents), f"{logical_id} accepts plain HTTP"


def test_buckets_use_the_customer_key_and_log_access(synth):
    logs = _access_log_buckets(synth)
    assert len(logs) == 1, "every data bucket logs to one access-log bucket"
    (log_bucket,) = logs
    for logical_id, bucket in synth.resources("AWS::S3::Bucket").items():
        (rule,) = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        default = rule["ServerSideEncryptionByDefault"]
        if logical_id == log_bucket:
            # S3 server access log delivery only writes to SSE-S3 buckets.
            assert default["SSEAlgorithm"] == "AES256"
            continue
        assert default["SSEAlgorithm"] == "aws:kms", logical_id
        assert refers_to(default["KMSMasterKeyID"], synth.key()), logical_id
        assert bucket["Properties"]["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": log_bucket}


def test_firehose_uses_the_customer_key_in_transit_and_at_rest(synth):
    streams = synth.resources("AWS::KinesisFirehose::DeliveryStream")
    assert streams
    for logical_id, stream in streams.items():
        props = stream["Properties"]
        sse = props["DeliveryStreamEncryptionConfigurationInput"]
        assert sse["KeyType"] == "CUSTOMER_MANAGED_CMK", logical_id
        assert refers_to(sse["KeyARN"], synth.key()), logical_id
        s3 = props["ExtendedS3DestinationConfiguration"]
        assert refers_to(s3["EncryptionConfiguration"]["KMSEncryptionConfig"]["AWSKMSKeyARN"], synth.key())


def test_function_logs_have_retention(synth):
    for logical_id, fn in synth.resources("AWS::Lambda::Function").items():
        group = fn["Properties"]["LoggingConfig"]["LogGroup"]
        (group_id,) = [k for k in synth.resources("AWS::Logs::LogGroup") if mentions(group, k)]
        assert synth.props(group_id)["RetentionInDays"] >= 1, logical_id


def test_every_log_group_is_on_the_customer_key(synth):
    # function logs, state-machine logs, API access logs, Firehose logs: masked, but still about customers
    groups = synth.resources("AWS::Logs::LogGroup")
    assert len(groups) >= 10
    for logical_id, group in groups.items():
        assert refers_to(group["Properties"].get("KmsKeyId"), synth.key()), logical_id


def test_cloudwatch_logs_may_use_the_key_for_this_accounts_log_groups_only(synth):
    statements = synth.props(synth.key())["KeyPolicy"]["Statement"]
    (logs,) = [s for s in statements if "logs." in json.dumps(s.get("Principal", {}))]
    assert set(logs["Action"]) >= {"kms:Encrypt*", "kms:Decrypt*", "kms:GenerateDataKey*"}
    condition = json.dumps(logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"])
    assert "log-group:*" in condition and "AWS::AccountId" in condition


def test_state_machines_never_log_execution_data(synth):
    # a waiting task's input holds its task token: the credential that sends the approval
    machines = synth.resources("AWS::StepFunctions::StateMachine")
    assert len(machines) == 2
    for logical_id, machine in machines.items():
        logging = machine["Properties"]["LoggingConfiguration"]
        assert logging["IncludeExecutionData"] is False, logical_id
