"""The decision log as users read it: a later verdict on the same decision (deliver's `failed` after
decide's `sent`) supersedes the earlier one, whatever order the log's objects are stored in.

Firehose names its S3 objects `<stream>-<version>-<YYYY-MM-DD-HH-MM-SS>-<random>` and S3 lists
LastModified to the second, so two objects written within one second carry no order of their own.
The test makes the random part of the names fall in reverse order — one of the orders Firehose may
produce — and writes the two rows as decide and deliver do, within one second.
"""
from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone
from itertools import count

from moto.firehose.models import FirehoseBackend

from marketing.adapters.aws import FirehoseDecisionSink, S3DecisionLog
from marketing.domain.decisions import current_records
from marketing.domain.models import Channel, Outcome, Reason


def a_decision_row(outcome: Outcome, reason: Reason | None = None) -> dict:
    return {"decision_id": "evt-1:roam-offer", "event_id": "evt-1", "customer_id": "8613800000001",
            "campaign_id": "roam-offer", "outcome": outcome, "reason": reason, "channel": Channel.SMS,
            "decided_at": datetime.now(timezone.utc).isoformat(), "latency_ms": 1.0, "detail": None}


def test_a_failed_delivery_supersedes_the_sent_decision_written_in_the_same_second(world, monkeypatch):
    original = FirehoseBackend._format_s3_object_path
    countdown = count(10**6, -1)

    def reverse_random_suffix(stream: str, version: str, prefix: str) -> str:
        path = original(stream, version, prefix)
        return path[:-36] + str(uuid.UUID(int=next(countdown)))

    monkeypatch.setattr(FirehoseBackend, "_format_s3_object_path", staticmethod(reverse_random_suffix))
    sink = FirehoseDecisionSink(world.client("firehose"), world.env["DECISIONS_FIREHOSE"])
    log = S3DecisionLog(world.client("s3"), world.env["DECISIONS_BUCKET"])
    time.sleep(1 - time.time() % 1)  # start of a second: both writes share it

    sink.write([a_decision_row(Outcome.SENT)])                    # decide: the offer goes out
    sink.write([a_decision_row(Outcome.FAILED, Reason.TEMPLATE)])  # deliver: it could not be rendered

    current = current_records(log.read())  # what `marketing decisions` and the demo show
    assert current["evt-1:roam-offer"]["outcome"] == Outcome.FAILED, (
        "within one second the objects' order is arbitrary: the verdict must follow decided_at, "
        "or a delivery that failed is reported as sent")
