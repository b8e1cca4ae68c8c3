"""The embedded emulator's server (marketing_tools.emulator.runtime.Emulator) answers as moto does, faster:
connections kept alive, a table's Query reading one partition, SQS receives linear in the queue,
each host's backend looked up once, DynamoDB answers written as plain JSON, expressions parsed once;
and this process's own clients reach its emulator without a socket."""
from __future__ import annotations

import time

import boto3
import pytest
import urllib3.connection

from marketing_tools.emulator.moto_fixes import _send_in_process
from marketing_tools.emulator.runtime import Emulator
from marketing_tools.emulator.account import REGION


@pytest.fixture(scope="module")
def emulator():
    server = Emulator(prefix="emulator-test", in_process=False)  # these tests are of the server over HTTP
    yield server
    server.stop()


def client(emulator: Emulator, service: str):
    return boto3.client(service, endpoint_url=emulator.endpoint, region_name=REGION,
                        aws_access_key_id="local", aws_secret_access_key="local")


@pytest.fixture
def connects(monkeypatch):
    """How many TCP connections clients open."""
    opened = []
    new_conn = urllib3.connection.HTTPConnection._new_conn

    def counted(self):
        opened.append(self.host)
        return new_conn(self)

    monkeypatch.setattr(urllib3.connection.HTTPConnection, "_new_conn", counted)
    return opened


def make_table(dynamodb, name: str, with_range: bool = True) -> None:
    keys = [("customer_id", "HASH")] + ([("sk", "RANGE")] if with_range else [])
    dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": a, "KeyType": t} for a, t in keys],
                          AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a, _ in keys])


def test_one_connection_serves_many_calls_including_refused_ones(emulator, connects):
    make_table(client(emulator, "dynamodb"), "keepalive", with_range=False)
    connects.clear()
    dynamodb = client(emulator, "dynamodb")  # a new client: its first call connects, the others reuse it
    refused = 0
    for i in range(40):
        try:
            dynamodb.update_item(
                TableName="keepalive", Key={"customer_id": {"S": "c1"}}, UpdateExpression="ADD n :one",
                ConditionExpression="attribute_not_exists(n) OR n < :cap",
                ExpressionAttributeValues={":one": {"N": "1"}, ":cap": {"N": "25"}})
        except dynamodb.exceptions.ConditionalCheckFailedException:
            refused += 1
    item = dynamodb.get_item(TableName="keepalive", Key={"customer_id": {"S": "c1"}})["Item"]
    assert (item["n"]["N"], refused) == ("25", 15)
    assert len(connects) == 1, f"{len(connects)} connections for 41 calls"


def test_a_query_on_the_key_returns_exactly_its_partition_in_order(emulator):
    dynamodb = client(emulator, "dynamodb")
    make_table(dynamodb, "partitions")
    for i in range(120):
        dynamodb.put_item(TableName="partitions", Item={
            "customer_id": {"S": f"c{i % 6}"}, "sk": {"S": f"{'offer' if i % 2 else 'visit'}#{i:04d}"}, "n": {"N": str(i)}})

    def query(**kwargs):
        pages, start = [], None
        while True:
            page = dynamodb.query(TableName="partitions", **kwargs, **({"ExclusiveStartKey": start} if start else {}))
            pages += [int(item["n"]["N"]) for item in page["Items"]]
            start = page.get("LastEvaluatedKey")
            if not start:
                return pages

    c3 = {":c": {"S": "c3"}}
    assert query(KeyConditionExpression="customer_id = :c", ExpressionAttributeValues=c3) == list(range(3, 120, 6))
    assert query(KeyConditionExpression="customer_id = :c", ExpressionAttributeValues=c3, Limit=7,
                 ScanIndexForward=False) == list(range(117, 2, -6))
    assert query(KeyConditionExpression="customer_id = :c AND begins_with(sk, :p)",
                 ExpressionAttributeValues={**c3, ":p": {"S": "offer#"}}) == list(range(3, 120, 6))
    assert query(KeyConditionExpression="customer_id = :c AND begins_with(sk, :p)",
                 ExpressionAttributeValues={**c3, ":p": {"S": "visit#"}}) == []
    assert query(KeyConditionExpression="customer_id = :c", ExpressionAttributeValues={":c": {"S": "nobody"}}) == []

    make_table(dynamodb, "single", with_range=False)
    for i in range(10):
        dynamodb.put_item(TableName="single", Item={"customer_id": {"S": f"c{i}"}, "n": {"N": str(i)}})
    assert dynamodb.query(TableName="single", KeyConditionExpression="customer_id = :c",
                          ExpressionAttributeValues={":c": {"S": "c7"}})["Items"] == [
        {"customer_id": {"S": "c7"}, "n": {"N": "7"}}]


def test_delayed_messages_stay_hidden_and_visible_ones_arrive(emulator):
    sqs = client(emulator, "sqs")
    url = sqs.create_queue(QueueName="held")["QueueUrl"]
    sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "MessageBody": f"later-{i}", "DelaySeconds": 900} for i in range(10)])
    sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "MessageBody": f"soon-{i}", "DelaySeconds": 1 if i % 2 else 0} for i in range(6)])
    got = [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])]
    assert sorted(got) == ["soon-0", "soon-2", "soon-4"]
    time.sleep(1.2)
    got = [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])]
    assert sorted(got) == ["soon-1", "soon-3", "soon-5"]
    assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []) == []


def test_a_shard_hands_out_each_record_once_in_order_in_pages(emulator):
    kinesis = client(emulator, "kinesis")
    kinesis.create_stream(StreamName="pages", ShardCount=1)
    shard = kinesis.list_shards(StreamName="pages")["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName="pages", ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    seen, sequence_numbers = [], []
    for wave in range(3):
        kinesis.put_records(StreamName="pages", Records=[
            {"Data": f"{wave}-{i}".encode(), "PartitionKey": "k"} for i in range(25)])
        while True:
            page = kinesis.get_records(ShardIterator=iterator, Limit=10)
            iterator = page["NextShardIterator"]
            seen += [r["Data"].decode() for r in page["Records"]]
            sequence_numbers += [int(r["SequenceNumber"]) for r in page["Records"]]
            if not page["Records"]:
                break
    assert seen == [f"{wave}-{i}" for wave in range(3) for i in range(25)]
    assert sequence_numbers == sorted(set(sequence_numbers))
    latest = kinesis.get_shard_iterator(StreamName="pages", ShardId=shard, ShardIteratorType="LATEST")["ShardIterator"]
    kinesis.put_record(StreamName="pages", Data=b"after", PartitionKey="k")
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=latest)["Records"]] == [b"after"]


def test_the_queue_counts_visible_delayed_and_in_flight_messages(emulator):
    sqs = client(emulator, "sqs")
    url = sqs.create_queue(QueueName="counted")["QueueUrl"]
    sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "MessageBody": str(i), "DelaySeconds": 900 if i < 4 else 0} for i in range(10)])
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, VisibilityTimeout=900)
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (counts["ApproximateNumberOfMessages"], counts["ApproximateNumberOfMessagesDelayed"],
            counts["ApproximateNumberOfMessagesNotVisible"]) == ("4", "4", "2")


def test_each_service_answers_its_own_calls_on_one_server(emulator):
    """Backends are looked up once per host: interleaved calls still reach the service they name."""
    dynamodb, sqs, sns, kinesis, s3 = (client(emulator, s) for s in ("dynamodb", "sqs", "sns", "kinesis", "s3"))
    make_table(dynamodb, "routed", with_range=False)
    sqs.create_queue(QueueName="routed")
    sns.create_topic(Name="routed")
    kinesis.create_stream(StreamName="routed", ShardCount=1)
    s3.create_bucket(Bucket="routed")
    for _ in range(2):
        assert "routed" in dynamodb.list_tables()["TableNames"]
        assert any(u.endswith("/routed") for u in sqs.list_queues()["QueueUrls"])
        assert any(t["TopicArn"].endswith(":routed") for t in sns.list_topics()["Topics"])
        assert "routed" in kinesis.list_streams()["StreamNames"]
        assert "routed" in [b["Name"] for b in s3.list_buckets()["Buckets"]]


EVERY_TYPE = {
    "customer_id": {"S": "c1"}, "sk": {"S": "state"}, "n": {"N": "12.5"}, "flag": {"BOOL": True},
    "nothing": {"NULL": True}, "tags": {"SS": ["a", "b"]}, "scores": {"NS": ["1", "2"]},
    "blob": {"B": b"\x00\xffraw"}, "blobs": {"BS": [b"x", b"y"]}, "text": {"S": "孙娜您好 \"quoted\""},
    "nested": {"M": {"list": {"L": [{"S": "x"}, {"N": "1"}, {"M": {"deep": {"BOOL": False}}}]}}},
}


def test_items_come_back_as_written_in_every_attribute_type(emulator):
    """Answers written as plain JSON (and binary ones through moto's serializer) parse to what was written."""
    dynamodb = client(emulator, "dynamodb")
    make_table(dynamodb, "types")
    plain = {k: v for k, v in EVERY_TYPE.items() if k not in ("blob", "blobs")}
    key = {"customer_id": {"S": "c1"}, "sk": {"S": "state"}}
    for item in (plain, EVERY_TYPE):
        dynamodb.put_item(TableName="types", Item=item)
        assert dynamodb.get_item(TableName="types", Key=key)["Item"] == item
        assert dynamodb.query(TableName="types", KeyConditionExpression="customer_id = :c",
                              ExpressionAttributeValues={":c": {"S": "c1"}})["Items"] == [item]
        got = dynamodb.batch_get_item(RequestItems={"types": {"Keys": [key]}})
        assert got["Responses"]["types"] == [item] and got["UnprocessedKeys"] == {}
        assert dynamodb.put_item(TableName="types", Item=item, ReturnValues="ALL_OLD")["Attributes"] == item
    updated = dynamodb.update_item(TableName="types", Key=key, UpdateExpression="ADD n :one REMOVE #b, #bs",
                                   ExpressionAttributeNames={"#b": "blob", "#bs": "blobs"},
                                   ExpressionAttributeValues={":one": {"N": "1"}}, ReturnValues="ALL_NEW")
    assert updated["Attributes"] == {**plain, "n": {"N": "13.5"}}
    assert dynamodb.get_item(TableName="types", Key={**key, "sk": {"S": "absent"}}).get("Item") is None
    described = dynamodb.describe_table(TableName="types")["Table"]  # timestamps: moto's own serializer
    assert described["TableName"] == "types" and described["CreationDateTime"].year >= 2024


def test_an_expression_used_again_applies_the_values_of_each_call(emulator):
    """Update and condition expressions parsed once per text still resolve each call's names and values."""
    dynamodb = client(emulator, "dynamodb")
    make_table(dynamodb, "reused", with_range=False)
    update = "ADD #n :step SET #t = :now"
    condition = "attribute_not_exists(#t) OR #t < :before"
    results = []
    for i, (step, now, before) in enumerate([(1, 10, 99), (5, 20, 99), (7, 30, 15), (2, 40, 35)]):
        try:
            dynamodb.update_item(
                TableName="reused", Key={"customer_id": {"S": "c1"}}, UpdateExpression=update,
                ConditionExpression=condition, ExpressionAttributeNames={"#n": "count", "#t": "at"},
                ExpressionAttributeValues={":step": {"N": str(step)}, ":now": {"N": str(now)},
                                           ":before": {"N": str(before)}})
            results.append("ok")
        except dynamodb.exceptions.ConditionalCheckFailedException:
            results.append("refused")
    item = dynamodb.get_item(TableName="reused", Key={"customer_id": {"S": "c1"}})["Item"]
    assert results == ["ok", "ok", "refused", "ok"]
    assert (item["count"], item["at"]) == ({"N": "8"}, {"N": "40"})
    dynamodb.update_item(TableName="reused", Key={"customer_id": {"S": "c2"}}, UpdateExpression=update,
                         ExpressionAttributeNames={"#n": "other", "#t": "when"},
                         ExpressionAttributeValues={":step": {"N": "3"}, ":now": {"N": "1"}})
    assert dynamodb.get_item(TableName="reused", Key={"customer_id": {"S": "c2"}})["Item"] == {
        "customer_id": {"S": "c2"}, "other": {"N": "3"}, "when": {"N": "1"}}
    for _ in range(2):  # a bad expression is refused every time, not remembered
        with pytest.raises(dynamodb.exceptions.ClientError, match="ValidationException"):
            dynamodb.update_item(TableName="reused", Key={"customer_id": {"S": "c1"}}, UpdateExpression="ADD",
                                 ExpressionAttributeValues={":one": {"N": "1"}})
        with pytest.raises(dynamodb.exceptions.ClientError):  # moto answers this one with a 500
            dynamodb.update_item(TableName="reused", Key={"customer_id": {"S": "c1"}}, UpdateExpression=update,
                                 ConditionExpression="#t <",
                                 ExpressionAttributeNames={"#n": "count", "#t": "at"},
                                 ExpressionAttributeValues={":step": {"N": "1"}, ":now": {"N": "1"}})


def test_this_process_reaches_its_emulator_without_a_socket_and_others_over_http(connects):
    server = Emulator(prefix="in-process")
    try:
        ours = client(server, "dynamodb")
        connects.clear()
        make_table(ours, "shared", with_range=False)
        item = {"customer_id": {"S": "c1"}, "n": {"N": "1"}}
        ours.put_item(TableName="shared", Item=item)
        with pytest.raises(ours.exceptions.ConditionalCheckFailedException):
            ours.put_item(TableName="shared", Item=item, ConditionExpression="attribute_not_exists(customer_id)")
        s3 = client(server, "s3")
        s3.create_bucket(Bucket="reports")
        s3.put_object(Bucket="reports", Key="a/report.html", Body="<p>lift ✓</p>".encode())
        assert s3.get_object(Bucket="reports", Key="a/report.html")["Body"].read().decode() == "<p>lift ✓</p>"
        sqs = client(server, "sqs")
        url = sqs.create_queue(QueueName="in-process")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="hello")
        assert [m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]] == ["hello"]
        assert connects == []

        other = boto3.session.Session()  # another process's view: no in-process hook
        other._session.unregister("before-send", _send_in_process)
        theirs = other.client("dynamodb", endpoint_url=server.endpoint, region_name=REGION,
                              aws_access_key_id="local", aws_secret_access_key="local")
        assert theirs.get_item(TableName="shared", Key={"customer_id": {"S": "c1"}})["Item"] == item
        assert len(connects) == 1
    finally:
        server.stop()
