"""Replay what a dead-letter queue holds (`marketing events replay`).

- A Kinesis on-failure pointer (enrich-failures, decide-failures) names a shard and a range of
  sequence numbers: the records are read back from the stream, while its retention keeps them, and
  put on the same stream again under their partition keys.
- A dead letter of the events DLQ carries the record itself (or `data_s3`, a copy in S3): it is
  put on customer-events again, filtered by reason (e.g. `unknown_customer` once the profiles are
  imported, `profile_update` once the rule is fixed).

A message leaves its queue only once everything it names is back on a stream; a pointer whose
records the stream no longer holds stays, and is reported. The event path is idempotent per
customer and event_id, so replaying a record that was decided already contacts no one again.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from marketing.adapters.aws import KinesisRecordStream


@dataclass
class ReplayResult:
    messages: int = 0                      # queue messages taken
    republished: int = 0                   # records put back on a stream
    skipped: int = 0                       # dead letters another --reason was asked for (left on the queue)
    kept: list[str] = field(default_factory=list)   # why a message stays on its queue


def _messages(sqs: Any, url: str, kept: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every message on the queue, once: each stays invisible (in flight) while the run goes on; the
    ones put in `kept` are made visible again at the end (the others were deleted)."""
    try:
        while True:
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                        VisibilityTimeout=600).get("Messages", [])
            if not batch:
                return
            yield from batch
    finally:
        for message in kept:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)


def _pointer_records(kinesis: Any, info: dict[str, Any]) -> tuple[str, list[tuple[str, bytes]], int]:
    """The stream a pointer names and the records in its range (partition key, data); and how many
    of `batchSize` are no longer there."""
    stream = info["streamArn"].rsplit("/", 1)[-1]
    first, last = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
    try:
        iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=info["shardId"],
                                              ShardIteratorType="AT_SEQUENCE_NUMBER",
                                              StartingSequenceNumber=info["startSequenceNumber"])["ShardIterator"]
    except kinesis.exceptions.InvalidArgumentException:
        return stream, [], int(info.get("batchSize", 0))   # trimmed: past the stream's retention
    records: list[tuple[str, bytes]] = []
    while iterator:
        response = kinesis.get_records(ShardIterator=iterator, Limit=1000)
        for record in response["Records"]:
            if int(record["SequenceNumber"]) > last:
                return stream, records, max(0, int(info.get("batchSize", 0)) - len(records))
            if int(record["SequenceNumber"]) >= first:
                records.append((record["PartitionKey"], record["Data"]))
        if not response["Records"] and not response.get("MillisBehindLatest"):
            break   # at the tip of the shard
        iterator = response.get("NextShardIterator")
    return stream, records, max(0, int(info.get("batchSize", 0)) - len(records))


def replay_pointers(kinesis: Any, sqs: Any, url: str, on_message: Callable[[], None] = lambda: None) -> ReplayResult:
    """Each on-failure pointer on the queue at `url`: its records back on their stream."""
    result, held = ReplayResult(), []
    for message in _messages(sqs, url, held):
        result.messages += 1
        info = json.loads(message["Body"]).get("KinesisBatchInfo")
        if not info:
            result.kept.append(f"message {message['MessageId']}: not a Kinesis on-failure pointer")
            held.append(message)
            on_message()
            continue
        stream, records, missing = _pointer_records(kinesis, info)
        failed = KinesisRecordStream(kinesis, stream).put(records) if records else []
        result.republished += len(records) - len(failed)
        if missing or failed:
            result.kept.append(f"{info['shardId']} {info['startSequenceNumber']}…{info['endSequenceNumber']}: "
                               f"{missing} record(s) past the stream's retention, {len(failed)} not accepted")
            held.append(message)
        else:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        on_message()
    return result


def _letter_data(letter: dict[str, Any], s3: Any) -> bytes:
    if letter.get("data_s3"):   # too big for the queue: the whole letter is in S3
        bucket, key = letter["data_s3"].removeprefix("s3://").split("/", 1)
        letter = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    if letter.get("encoding") == "base64":
        return base64.b64decode(letter["data"])
    return letter["data"].encode("utf-8", "surrogatepass")


def replay_dead_letters(kinesis: Any, sqs: Any, s3: Any, url: str, stream: str, reasons: set[str] | None,
                        on_message: Callable[[], None] = lambda: None) -> ReplayResult:
    """Each dead letter on the events DLQ (of one of `reasons`, or any): its record back on `stream`."""
    result, held = ReplayResult(), []
    out = KinesisRecordStream(kinesis, stream)
    for message in _messages(sqs, url, held):
        result.messages += 1
        letter = json.loads(message["Body"])
        if reasons and letter.get("reason") not in reasons:
            result.skipped += 1
            held.append(message)
        elif out.put([(letter.get("partition_key") or "unknown", _letter_data(letter, s3))]):
            result.kept.append(f"record {letter.get('record_id')}: not accepted by Kinesis")
            held.append(message)
        else:
            result.republished += 1
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        on_message()
    return result
