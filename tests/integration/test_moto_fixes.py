"""The moto fixes the suite and the emulator run on change no answer: a cancelled transaction
still leaves every item as it was, and a transaction no longer costs a copy of its tables."""
from __future__ import annotations

import tracemalloc

import boto3
import pytest
from botocore.exceptions import ClientError


def _table(name: str, range_key: bool = False):
    client = boto3.client("dynamodb")
    keys = [("pk", "HASH")] + ([("sk", "RANGE")] if range_key else [])
    client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": a, "KeyType": t} for a, t in keys],
                        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a, _ in keys])
    return client


def _items(client, name: str) -> dict[str, dict]:
    return {i["pk"]["S"] + i.get("sk", {}).get("S", ""): i for i in client.scan(TableName=name)["Items"]}


@pytest.mark.parametrize("range_key", [False, True])
def test_a_cancelled_transaction_leaves_every_item_as_it_was(aws, range_key):
    client = _table("t", range_key)
    sk = {"sk": {"S": "a"}} if range_key else {}
    client.put_item(TableName="t", Item={"pk": {"S": "kept"}, **sk, "n": {"N": "1"}})
    client.put_item(TableName="t", Item={"pk": {"S": "guard"}, **sk, "n": {"N": "1"}})
    before = _items(client, "t")

    with pytest.raises(ClientError) as cancelled:
        client.transact_write_items(TransactItems=[
            {"Update": {"TableName": "t", "Key": {"pk": {"S": "kept"}, **sk}, "UpdateExpression": "SET n = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}}}},
            {"Put": {"TableName": "t", "Item": {"pk": {"S": "new"}, **sk, "n": {"N": "1"}}}},
            {"Delete": {"TableName": "t", "Key": {"pk": {"S": "guard"}, **sk}}},
            {"ConditionCheck": {"TableName": "t", "Key": {"pk": {"S": "absent"}, **sk},
                                "ConditionExpression": "attribute_exists(pk)"}},
        ])

    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert _items(client, "t") == before


def test_a_committed_transaction_writes_all_it_names(aws):
    client = _table("t")
    client.put_item(TableName="t", Item={"pk": {"S": "kept"}, "n": {"N": "1"}})
    client.transact_write_items(TransactItems=[
        {"Update": {"TableName": "t", "Key": {"pk": {"S": "kept"}}, "UpdateExpression": "SET n = :two",
                    "ConditionExpression": "n = :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}, ":two": {"N": "2"}}}},
        {"Put": {"TableName": "t", "Item": {"pk": {"S": "new"}, "n": {"N": "1"}}}},
    ])
    assert {k: v["n"]["N"] for k, v in _items(client, "t").items()} == {"kept": "2", "new": "1"}


def test_a_transaction_on_a_big_table_does_not_copy_it(aws):
    """20,000 items of 1 KB: a copy of the table is 20+ MB; a transaction of one item allocates kilobytes."""
    client = _table("t")
    filler = "x" * 1000
    for start in range(0, 20_000, 25):
        client.batch_write_item(RequestItems={"t": [
            {"PutRequest": {"Item": {"pk": {"S": f"c{i}"}, "doc": {"S": filler}}}} for i in range(start, start + 25)]})

    tracemalloc.start()
    try:
        for i in range(3):
            client.transact_write_items(TransactItems=[
                {"Put": {"TableName": "t", "Item": {"pk": {"S": f"c{i}"}, "doc": {"S": "y"}},
                         "ConditionExpression": "attribute_exists(pk)"}}])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000, f"a one-item transaction allocated {peak:,} bytes"
