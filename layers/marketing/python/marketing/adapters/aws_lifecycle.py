"""boto3 adapters of the campaign lifecycle's ports: the audit table, Step Functions task tokens,
SNS notices, the reports bucket, the customer-events history and the campaign's recorded rows.

What they must never do: decide anything (the rules are in domain.approval), or log contact data.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any, Iterable

from botocore.exceptions import ClientError

from marketing.adapters.aws import S3DecisionLog, from_item, to_item
from marketing.ports import RequestConflict, TokenExpired

REQUEST = "request"
TRAIL = "at#"

# Where the evaluation finds a campaign's rows in the decisions bucket (JSON lines under each prefix):
# decision records (SPEC 4.5) from Firehose, and outcome rows {"kind": "contact" | "response" |
# "conversion" | "unsubscribe", "campaign_id", "customer_id", "at", "group"?} from whoever records them.
RECORD_PREFIXES = ("decisions/", "outcomes/")


class DynamoAuditTrail:
    def __init__(self, client: Any, table: str):
        self._client, self._table = client, table

    def open_request(self, item: dict[str, Any]) -> None:
        try:
            self._client.put_item(
                TableName=self._table, Item=to_item({**item, "sk": REQUEST}),
                ConditionExpression="attribute_not_exists(campaign_id) OR #s <> :pending",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":pending": {"S": "pending_approval"}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise RequestConflict(f"campaign {item['campaign_id']} already waits for approval") from None
            raise

    def _key(self, campaign_id: str) -> dict[str, Any]:
        return {"campaign_id": {"S": campaign_id}, "sk": {"S": REQUEST}}

    def get_request(self, campaign_id: str) -> dict[str, Any] | None:
        item = self._client.get_item(TableName=self._table, Key=self._key(campaign_id), ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    def add_approver(self, campaign_id: str, by: str) -> dict[str, Any]:
        try:
            response = self._client.update_item(
                TableName=self._table, Key=self._key(campaign_id),
                UpdateExpression="SET approvers = list_append(approvers, :by)",
                ConditionExpression="#s = :pending AND NOT contains(approvers, :who)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":by": {"L": [{"S": by}]}, ":who": {"S": by},
                                           ":pending": {"S": "pending_approval"}},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise RequestConflict(f"campaign {campaign_id}: not pending, or {by} already approved") from None
            raise
        return from_item(response["Attributes"])

    def set_status(self, campaign_id: str, status: str, expected: tuple[str, ...] | None = None,
                   **fields: Any) -> bool:
        names = {"#s": "status", **{f"#f{i}": k for i, k in enumerate(fields)}}
        values = to_item({":status": status, **{f":f{i}": v for i, v in enumerate(fields.values())}})
        sets = ["#s = :status", *[f"#f{i} = :f{i}" for i in range(len(fields))]]
        kwargs: dict[str, Any] = {}
        if expected:
            values.update(to_item({f":e{i}": e for i, e in enumerate(expected)}))
            kwargs["ConditionExpression"] = "#s IN (" + ", ".join(f":e{i}" for i in range(len(expected))) + ")"
        try:
            self._client.update_item(TableName=self._table, Key=self._key(campaign_id),
                                     UpdateExpression="SET " + ", ".join(sets),
                                     ExpressionAttributeNames=names, ExpressionAttributeValues=values, **kwargs)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def append(self, campaign_id: str, record: dict[str, Any]) -> None:
        sk = f"{TRAIL}{record['at']}#{uuid.uuid4().hex[:8]}"
        self._client.put_item(TableName=self._table, Item=to_item({**record, "campaign_id": campaign_id, "sk": sk}))

    def trail(self, campaign_id: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table, "ConsistentRead": True,
            "KeyConditionExpression": "campaign_id = :c AND begins_with(sk, :t)",
            "ExpressionAttributeValues": {":c": {"S": campaign_id}, ":t": {"S": TRAIL}},
        }
        while True:
            response = self._client.query(**kwargs)
            rows += [from_item(i) for i in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                return rows
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


class StepFunctionsCallback:
    _GONE = {"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"}

    def __init__(self, client: Any):
        self._client = client

    def _call(self, method: str, **kwargs: Any) -> None:
        try:
            getattr(self._client, method)(**kwargs)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in self._GONE:
                raise TokenExpired(exc.response["Error"]["Message"]) from None
            raise

    def succeed(self, token: str, output: dict[str, Any]) -> None:
        self._call("send_task_success", taskToken=token, output=json.dumps(output, ensure_ascii=False))

    def fail(self, token: str, error: str, cause: str) -> None:
        self._call("send_task_failure", taskToken=token, error=error, cause=cause[:32768])


class SnsNotifier:
    def __init__(self, client: Any, topic_arn: str):
        self._client, self._topic = client, topic_arn

    def publish(self, subject: str, message: str, attributes: dict[str, str] | None = None) -> str:
        return self._client.publish(
            TopicArn=self._topic, Subject=subject[:100], Message=message,
            MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in (attributes or {}).items() if v},
        )["MessageId"]


class S3ReportStore:
    def __init__(self, client: Any, bucket: str):
        self._client, self._bucket = client, bucket

    def put(self, key: str, body: str, content_type: str) -> str:
        self._client.put_object(Bucket=self._bucket, Key=key, Body=body.encode(), ContentType=content_type)
        return f"s3://{self._bucket}/{key}"

    def get(self, key: str) -> str | None:
        try:
            return self._client.get_object(Bucket=self._bucket, Key=key)["Body"].read().decode()
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise


class KinesisEventHistory:
    """The events still in the customer-events stream (its retention window), every shard from its start."""

    def __init__(self, client: Any, stream: str):
        self._client, self._stream = client, stream

    def recent(self, limit: int) -> Iterable[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for shard in self._client.list_shards(StreamName=self._stream)["Shards"]:
            iterator = self._client.get_shard_iterator(StreamName=self._stream, ShardId=shard["ShardId"],
                                                       ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            while iterator and len(events) < limit:
                response = self._client.get_records(ShardIterator=iterator, Limit=10_000)
                for record in response["Records"]:
                    try:
                        events.append(json.loads(record["Data"]))
                    except (ValueError, UnicodeDecodeError):
                        continue   # malformed records were dead-lettered by enrich; nothing to replay
                if not response["Records"] or response.get("MillisBehindLatest", 1) == 0:
                    break
                iterator = response.get("NextShardIterator")
        return events[:limit]


class S3CampaignRecords:
    """A campaign's rows from the decisions bucket (decision records and outcome rows, RECORD_PREFIXES)."""

    def __init__(self, client: Any, bucket: str, prefixes: tuple[str, ...] = RECORD_PREFIXES):
        self._logs = [S3DecisionLog(client, bucket, prefix) for prefix in prefixes]

    def read(self, campaign_id: str) -> Iterable[dict[str, Any]]:
        for log in self._logs:
            for row in log.read():
                if row.get("campaign_id") == campaign_id:
                    yield row


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
