"""The local Kinesis event-source poller honours partial batch failures as Lambda's mapping does:
resume from the lowest failed sequence number, and after the retries send the batch's coordinates
to the on-failure queue. A fake handler stands in for a function: this is the local runtime.
"""
from __future__ import annotations

import base64
import json

import boto3
import pytest

from marketing import resources as r
from marketing_tools.emulator.pollers import KinesisPoller

RETRIES = 2


class FakeFunction:
    """Records what each invocation received; reports the listed records as failed."""

    def __init__(self, fail: set[bytes], times: int | None = None):
        self.fail, self.times = fail, times  # times=None: fail them on every invocation
        self.invocations: list[list[bytes]] = []

    def __call__(self, event: dict, context: object) -> dict:
        records = event["Records"]
        self.invocations.append([base64.b64decode(rec["kinesis"]["data"]) for rec in records])
        failing = self.times is None or len(self.invocations) <= self.times
        return {"batchItemFailures": [
            {"itemIdentifier": rec["kinesis"]["sequenceNumber"]} for rec in records
            if failing and base64.b64decode(rec["kinesis"]["data"]) in self.fail]}


@pytest.fixture
def stream(aws):
    kinesis, sqs = boto3.client("kinesis"), boto3.client("sqs")
    kinesis.create_stream(StreamName="orders", ShardCount=1)
    on_failure = sqs.create_queue(QueueName="orders-failures")["QueueUrl"]
    return kinesis, sqs, on_failure


def poller_for(stream, function: FakeFunction) -> KinesisPoller:
    kinesis, sqs, on_failure = stream
    mapping = r.StreamMapping("orders", batch_size=10, max_retry_attempts=RETRIES, on_failure_queue="orders-failures")
    return KinesisPoller(kinesis, sqs, "orders", mapping, function, "fake", on_failure)


def put(stream, *datas: bytes) -> None:
    kinesis, _, _ = stream
    kinesis.put_records(StreamName="orders", Records=[{"PartitionKey": "k", "Data": d} for d in datas])


def on_failure_messages(stream) -> list[dict]:
    _, sqs, url = stream
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


RECORDS = [b"r1", b"r2", b"r3", b"r4", b"r5"]


def test_a_reported_failure_is_retried_from_that_record_only(stream):
    function = FakeFunction(fail={b"r3"}, times=1)
    poller = poller_for(stream, function)
    put(stream, *RECORDS)

    poller.poll()

    assert function.invocations == [RECORDS, [b"r3", b"r4", b"r5"]]
    assert poller.lag() == 0
    assert on_failure_messages(stream) == []


def test_a_record_failing_beyond_the_retries_goes_to_the_on_failure_queue_and_the_shard_moves_on(stream):
    function = FakeFunction(fail={b"r3"})
    poller = poller_for(stream, function)
    put(stream, *RECORDS)

    poller.poll()

    delivered = [d for batch in function.invocations for d in batch]
    assert delivered.count(b"r1") == delivered.count(b"r2") == 1
    assert delivered.count(b"r3") > RETRIES  # the first attempt and every retry
    [message] = on_failure_messages(stream)
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    info = message["KinesisBatchInfo"]
    kinesis, _, _ = stream
    shard = kinesis.list_shards(StreamName="orders")["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName="orders", ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    sequence = {rec["Data"]: rec["SequenceNumber"]
                for rec in kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"]}
    assert (info["shardId"], info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        shard, sequence[b"r3"], sequence[b"r5"], 3)

    # the shard is not stuck behind the failed record
    calls = len(function.invocations)
    put(stream, b"r6")
    poller.poll()
    assert function.invocations[calls:] == [[b"r6"]]
    assert poller.lag() == 0
