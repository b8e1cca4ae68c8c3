"""Local event-source pollers: what Lambda's event-source mappings do, with the settings of
`marketing.resources`. Kinesis batches per shard with ReportBatchItemFailures (resume from the lowest
failed sequence number, bounded retries, bisect on error, then the on-failure queue) and SQS batches
(failed messages stay on the queue and come back; the queue's redrive moves them to its DLQ)."""
from __future__ import annotations

import base64
import logging
from typing import Any, Callable


from marketing import resources as r
from marketing_tools.emulator.handlers import LocalContext
from marketing_tools.emulator.account import ACCOUNT, REGION


class KinesisPoller:
    """One stream's event-source mapping: per shard, batches in order, partial failures honoured."""

    def __init__(self, kinesis: Any, sqs: Any, stream_name: str, mapping: r.StreamMapping,
                 handler: Callable[[dict, Any], dict], function: str, on_failure_url: str):
        self._kinesis, self._sqs, self._stream, self._mapping = kinesis, sqs, stream_name, mapping
        self._handler, self._function, self._on_failure_url = handler, function, on_failure_url
        description = kinesis.describe_stream(StreamName=stream_name)["StreamDescription"]
        self._arn = description["StreamARN"]
        self._iterators: dict[str, str | None] = {}
        for shard in kinesis.list_shards(StreamName=stream_name)["Shards"]:
            self._iterators[shard["ShardId"]] = kinesis.get_shard_iterator(
                StreamName=stream_name, ShardId=shard["ShardId"], ShardIteratorType=mapping.starting_position
            )["ShardIterator"]
        self._pending: dict[str, list[dict]] = {s: [] for s in self._iterators}
        self.invocations = 0
        self.retries = 0
        self.failed_batches = 0

    def _to_lambda(self, shard: str, record: dict) -> dict:
        return {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": record["PartitionKey"],
                "sequenceNumber": record["SequenceNumber"],
                "data": base64.b64encode(record["Data"]).decode(),
                "approximateArrivalTimestamp": record["ApproximateArrivalTimestamp"].timestamp(),
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{shard}:{record['SequenceNumber']}",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/{self._function}",
            "awsRegion": REGION,
            "eventSourceARN": self._arn,
        }

    def _fetch(self, shard: str) -> None:
        iterator = self._iterators[shard]
        if iterator is None or len(self._pending[shard]) >= self._mapping.batch_size:
            return
        response = self._kinesis.get_records(ShardIterator=iterator, Limit=max(self._mapping.batch_size, 1000))
        self._iterators[shard] = response.get("NextShardIterator")
        self._pending[shard] += [self._to_lambda(shard, rec) for rec in response["Records"]]

    def poll(self) -> int:
        """One round over the shards; returns how many records were completed."""
        done = 0
        for shard in self._iterators:
            self._fetch(shard)
            batch = self._pending[shard][: self._mapping.batch_size]
            if batch:
                done += self._deliver(shard, batch)
        return done

    def _invoke(self, batch: list[dict]) -> list[str] | None:
        """The failed sequence numbers, or None when the invocation itself failed."""
        self.invocations += 1
        try:
            response = self._handler({"Records": batch}, LocalContext(self._function)) or {}
        except KeyboardInterrupt:
            raise
        except BaseException:  # noqa: BLE001 - an invocation error (or a dying process) is what the mapping retries
            logging.getLogger("marketing.local").exception("%s invocation failed", self._function)
            return None
        return [f["itemIdentifier"] for f in response.get("batchItemFailures", [])]

    def _deliver(self, shard: str, batch: list[dict]) -> int:
        attempts = 0
        while True:
            failed = self._invoke(batch)
            if failed == []:
                del self._pending[shard][: len(batch)]
                return len(batch)
            attempts += 1
            self.retries += 1
            if failed:  # resume from the lowest failed sequence number, as Lambda does
                lowest = min(int(s) for s in failed)
                keep = [rec for rec in batch if int(rec["kinesis"]["sequenceNumber"]) >= lowest]
                completed = len(batch) - len(keep)
                del self._pending[shard][:completed]
                batch = keep
                if completed:
                    attempts = 0
            elif self._mapping.bisect_on_error and len(batch) > 1:
                batch = batch[: len(batch) // 2]
            if attempts > self._mapping.max_retry_attempts:
                self._send_to_on_failure(shard, batch)
                del self._pending[shard][: len(batch)]
                self.failed_batches += 1
                return len(batch)

    def _send_to_on_failure(self, shard: str, batch: list[dict]) -> None:
        first, last = batch[0]["kinesis"]["sequenceNumber"], batch[-1]["kinesis"]["sequenceNumber"]
        body = {
            "requestContext": {"condition": "RetryAttemptsExhausted", "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self._function}"},
            "KinesisBatchInfo": {"shardId": shard, "startSequenceNumber": first, "endSequenceNumber": last,
                                 "batchSize": len(batch), "streamArn": self._arn},
        }
        import json

        self._sqs.send_message(QueueUrl=self._on_failure_url, MessageBody=json.dumps(body))

    def lag(self) -> int:
        return sum(len(p) for p in self._pending.values())


class SqsPoller:
    """The SQS event-source mapping: receive, invoke, delete what succeeded; failures come back."""

    def __init__(self, sqs: Any, queue_url: str, mapping: r.QueueMapping, handler: Callable[[dict, Any], dict],
                 function: str, retry_delay_s: int = 1):
        self._sqs, self._url, self._mapping, self._handler = sqs, queue_url, mapping, handler
        self._function, self._retry_delay = function, retry_delay_s
        self._arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.invocations = 0

    def poll(self, max_batches: int = 20) -> int:
        """Up to `max_batches` batches, as Lambda would run them with concurrency; returns messages done."""
        done = 0
        for _ in range(max_batches):
            moved = self._poll_once()
            if not moved:
                break
            done += moved
        return done

    def _poll_once(self) -> int:
        messages = self._sqs.receive_message(
            QueueUrl=self._url, MaxNumberOfMessages=min(self._mapping.batch_size, 10), AttributeNames=["All"],
            MessageAttributeNames=["All"], WaitTimeSeconds=0,
        ).get("Messages", [])
        if not messages:
            return 0
        records = [{
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": m.get("Attributes", {}), "messageAttributes": m.get("MessageAttributes", {}),
            "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs", "eventSourceARN": self._arn, "awsRegion": REGION,
        } for m in messages]
        self.invocations += 1
        try:
            response = self._handler({"Records": records}, LocalContext(self._function)) or {}
            failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        except KeyboardInterrupt:
            raise
        except BaseException:  # noqa: BLE001 - the whole batch comes back (process died or not), as with Lambda
            logging.getLogger("marketing.local").exception("%s invocation failed", self._function)
            failed = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(QueueUrl=self._url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
        for m in messages:
            if m["MessageId"] in failed:  # locally, retry after a short delay instead of the full visibility timeout
                self._sqs.change_message_visibility(QueueUrl=self._url, ReceiptHandle=m["ReceiptHandle"],
                                                    VisibilityTimeout=self._retry_delay)
        return len(done)


class TopicPoller:
    """An SNS subscription of a function: locally, the topic fans out to a tap queue (moto delivers
    SNS → SQS) and each message is handed to the handler as Lambda's SNS event. A failing message
    comes back up to `retry_attempts` times, then goes to the subscription's dead-letter queue."""

    def __init__(self, sns: Any, sqs: Any, topic_arn: str, subscription: r.TopicSubscription,
                 handler: Callable[[dict, Any], dict], function: str, dead_letter_url: str):
        self._sqs, self._handler, self._function = sqs, handler, function
        self._topic_arn, self._dlq, self._attempts = topic_arn, dead_letter_url, subscription.retry_attempts + 1
        self._url = sqs.create_queue(QueueName=f"{function}-local-tap")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self._url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
        self.invocations = 0

    def poll(self) -> int:
        import json

        done = 0
        while True:
            messages = self._sqs.receive_message(QueueUrl=self._url, MaxNumberOfMessages=10,
                                                 WaitTimeSeconds=0).get("Messages", [])
            if not messages:
                return done
            for m in messages:
                note = json.loads(m["Body"])  # the SNS notification moto put on the tap queue
                event = {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
                                      "EventSubscriptionArn": f"{self._topic_arn}:local", "Sns": {
                                          "Type": "Notification", "MessageId": note.get("MessageId", ""),
                                          "TopicArn": self._topic_arn, "Message": note["Message"],
                                          "Timestamp": note.get("Timestamp", ""), "MessageAttributes": {}}}]}
                for attempt in range(self._attempts):
                    self.invocations += 1
                    try:
                        self._handler(event, LocalContext(self._function))
                        break
                    except KeyboardInterrupt:
                        raise
                    except BaseException:  # noqa: BLE001 - an asynchronous invocation is retried, then dead-lettered
                        logging.getLogger("marketing.local").exception("%s invocation failed", self._function)
                else:
                    self._sqs.send_message(QueueUrl=self._dlq, MessageBody=json.dumps(event))
                self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=m["ReceiptHandle"])
                done += 1


