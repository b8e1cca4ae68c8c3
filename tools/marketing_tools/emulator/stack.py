"""Creates every resource of `marketing.resources` on an AWS endpoint (the local emulator).

The same definitions drive the CDK app, so names, keys, TTLs, queue settings and redrive agree.
Returns the environment the handlers read their configuration from.
"""
from __future__ import annotations

import json
import secrets
from typing import Any

import boto3

from marketing import resources as r
from marketing_tools.emulator import state_machines
from marketing_tools.emulator.account import ACCOUNT, REGION

EMAIL_SENDER = "offers@example.com"


def _table(ddb: Any, name: str, table: r.Table) -> None:
    keys = [table.partition] + ([table.sort] if table.sort else [])
    attributes = {k.name: k.type for k in keys}
    for index in table.indexes:
        attributes[index.partition.name] = index.partition.type
        if index.sort:
            attributes[index.sort.name] = index.sort.type
    kwargs: dict[str, Any] = {
        "TableName": name,
        "KeySchema": [{"AttributeName": table.partition.name, "KeyType": "HASH"}]
        + ([{"AttributeName": table.sort.name, "KeyType": "RANGE"}] if table.sort else []),
        "AttributeDefinitions": [{"AttributeName": k, "AttributeType": t} for k, t in attributes.items()],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if table.indexes:
        kwargs["GlobalSecondaryIndexes"] = [
            {
                "IndexName": i.name,
                "KeySchema": [{"AttributeName": i.partition.name, "KeyType": "HASH"}]
                + ([{"AttributeName": i.sort.name, "KeyType": "RANGE"}] if i.sort else []),
                "Projection": {"ProjectionType": "ALL"},
            }
            for i in table.indexes
        ]
    ddb.create_table(**kwargs)
    if table.ttl_attribute:
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute})


def create_stack(endpoint_url: str | None, prefix: str = "marketing") -> dict[str, str]:
    """Create everything; returns {ENV_VAR: physical name or URL} for the handlers."""
    session = boto3.session.Session(region_name=REGION)
    make = lambda service: session.client(service, endpoint_url=endpoint_url)  # noqa: E731
    ddb, kinesis, sqs, s3, firehose, ses = (make(s) for s in ("dynamodb", "kinesis", "sqs", "s3", "firehose", "ses"))
    env: dict[str, str] = {}
    for table in r.TABLES:
        name = r.physical_name(prefix, table.logical)
        _table(ddb, name, table)
        env[table.env] = name
    for stream in r.STREAMS:
        name = r.physical_name(prefix, stream.logical)
        kinesis.create_stream(StreamName=name, ShardCount=stream.shards)
        env[stream.env] = name
    arns: dict[str, str] = {}
    for queue in r.QUEUES:
        attributes = {
            "VisibilityTimeout": str(queue.visibility_timeout_s),
            "MessageRetentionPeriod": str(queue.retention_s),
        }
        if queue.dead_letter:
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": arns[queue.dead_letter], "maxReceiveCount": queue.max_receive_count}
            )
        url = sqs.create_queue(QueueName=r.physical_name(prefix, queue.logical), Attributes=attributes)["QueueUrl"]
        arns[queue.logical] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        env[queue.env] = url
    for bucket in r.BUCKETS:
        name = r.physical_name(prefix, bucket.logical)
        s3.create_bucket(Bucket=name)
        env[bucket.env] = name
    for delivery in r.DELIVERY_STREAMS:
        name = r.physical_name(prefix, delivery.logical)
        firehose.create_delivery_stream(
            DeliveryStreamName=name,
            DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "RoleARN": f"arn:aws:iam::{ACCOUNT}:role/{prefix}-firehose",
                "BucketARN": f"arn:aws:s3:::{r.physical_name(prefix, delivery.bucket)}",
                "Prefix": delivery.prefix,
                "BufferingHints": {"IntervalInSeconds": delivery.buffer_interval_s, "SizeInMBs": delivery.buffer_size_mb},
            },
        )
        env[delivery.env] = name
    sns = make("sns")
    for topic in r.TOPICS:
        env[topic.env] = sns.create_topic(Name=r.physical_name(prefix, topic.logical))["TopicArn"]
    ses.verify_email_identity(EmailAddress=EMAIL_SENDER)
    env["EMAIL_SENDER"] = EMAIL_SENDER
    env["UNSUBSCRIBE_SECRET"] = secrets.token_urlsafe(24)  # signs this local stack's unsubscribe links
    env.update(state_machines.create(make, prefix, env))   # topics, task functions, state machines
    return env
