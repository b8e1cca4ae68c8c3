"""Enrich reads profiles in batches (STYLE: one read per batch): 250 customers in one Kinesis batch
cost ceil(250 / 100) = 3 BatchGetItem calls, never one call per event.
"""
from __future__ import annotations

import base64
import json

import boto3

from marketing import resources as r
from marketing_tools.emulator.handlers import LocalContext, load_handler
from marketing_tools.emulator.runtime import CallCounter
from tests.integration.world import a_profile, an_event


def a_kinesis_batch(events: list[dict]) -> dict:
    """The event Lambda's Kinesis mapping hands the enrich function: one batch, one shard."""
    return {"Records": [{
        "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": e["customer_id"], "sequenceNumber": str(10_000 + i),
                    "data": base64.b64encode(json.dumps(e).encode()).decode(), "approximateArrivalTimestamp": 0.0},
        "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": f"shardId-000000000000:{10_000 + i}",
        "eventName": "aws:kinesis:record", "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/marketing-customer-events",
    } for i, e in enumerate(events)]}


def enriched_records(world) -> list[dict]:
    kinesis, stream = world.client("kinesis"), world.env["ENRICHED_EVENTS_STREAM"]
    out = []
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        out += [json.loads(rec["Data"]) for rec in kinesis.get_records(ShardIterator=iterator, Limit=1000)["Records"]]
    return out


def test_250_customers_in_one_batch_are_read_with_3_batch_gets(world):
    customers = [f"86139{i:08d}" for i in range(250)]
    world.add_profiles(*(a_profile(c) for c in customers))
    counter = CallCounter()
    boto3.DEFAULT_SESSION.events.register("before-call.dynamodb.BatchGetItem", counter)
    enrich = load_handler(r.ENRICH, world.env)  # cold start: its clients come from the default session

    response = enrich(a_kinesis_batch([an_event(customer=c) for c in customers]), LocalContext("enrich"))

    assert response == {"batchItemFailures": []}
    assert counter.calls == {"dynamodb.BatchGetItem": 3}
    enriched = enriched_records(world)
    assert sorted(e["profile"]["customer_id"] for e in enriched) == customers
    assert world.dead_letters() == []
