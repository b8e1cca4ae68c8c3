"""The event path under injected faults (tests/integration/faults.py): nothing lost, nothing sent twice."""
from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.integration.faults import Crash, Faults


@pytest.fixture
def faults(aws) -> Faults:
    return Faults()


# ------------------------------------------------------------------ the harness itself


def test_a_fault_before_the_call_applies_nothing_and_one_after_it_applies_the_call(world, faults):
    table = world.env["PROFILES_TABLE"]
    ddb = boto3.client("dynamodb")
    before = faults.inject("dynamodb.PutItem", "throttle", when="before")
    after = faults.inject("dynamodb.PutItem", "5xx", when="after")
    item = {"customer_id": {"S": "x"}}

    with pytest.raises(ClientError, match="ThrottlingException"):
        ddb.put_item(TableName=table, Item=item)
    assert "Item" not in ddb.get_item(TableName=table, Key=item)
    with pytest.raises(ClientError, match="InternalServerError"):
        ddb.put_item(TableName=table, Item=item)
    assert "Item" in ddb.get_item(TableName=table, Key=item)   # applied, the answer lost
    ddb.put_item(TableName=table, Item=item)                   # both faults spent
    assert (before.fired, after.fired) == (1, 1)


def test_a_crash_is_no_exception_and_a_timeout_or_a_persistent_fault_keeps_failing(world, faults):
    faults.inject("sns.Publish", "crash", when="after")
    faults.inject("sqs.GetQueueUrl", "timeout", times=None)
    with pytest.raises(Crash):
        try:
            boto3.client("sns").publish(PhoneNumber="+8613800000001", Message="hi")
        except Exception:   # noqa: BLE001 - the handler's own catch-all must not see a dying process
            pytest.fail("a crash was caught as an exception")
    for _ in range(3):
        with pytest.raises(Exception, match="timeout"):
            boto3.client("sqs").get_queue_url(QueueName="anything")
    with pytest.raises(ValueError, match="unknown fault"):
        faults.inject("sns.Publish", "gremlins")
