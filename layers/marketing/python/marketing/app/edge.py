"""The Lambda edge: a trigger's records → typed messages → one use case's batch → the partial-batch
response Lambda's ReportBatchItemFailures expects.

Records are handled one by one by Powertools' BatchProcessor (a record that raises, or that cannot
be decoded, is reported; the others go on); what the use case flushes after the loop (one put for
the whole batch) can fail per message too, and those records are added to the same response.
No business rule here, and no use case ever sees a Lambda record.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence, TypeVar

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.parser.models import KinesisDataStreamRecordPayload

from marketing.app.batch import BatchOutcome, BatchUseCase
from marketing.app.sms_replies import InboundSms, SmsReplies
from marketing.domain.handoff import EnrichedEvent, OfferMessage, StreamRecord

M = TypeVar("M")
Records = Sequence[dict[str, Any]]
Trigger = Callable[[Any, Records], BatchOutcome]  # (use case, the event's Records) → outcome


class MalformedMessage(ValueError):
    """A record whose body is not the message its queue or stream carries (it is retried, then
    dead-lettered by the queue's redrive policy or the stream's failure destination)."""


def process(records: Records, kind: EventType, handle: Callable[[Any], None]) -> list[str]:
    """Run `handle` on every record; returns the identifiers of the records that raised."""
    if not records:
        return []
    processor = BatchProcessor(event_type=kind, raise_on_entire_batch_failure=False)
    with processor(records=records, handler=handle):
        processor.process()
    return [f["itemIdentifier"] for f in processor.response()["batchItemFailures"]]


def run_batch(use_case: BatchUseCase, records: Records, kind: EventType,
              identify: Callable[[dict[str, Any]], str], decode: Callable[[dict[str, Any]], M]) -> BatchOutcome:
    """Decode every record, give the use case the messages, fail per record what raised or was
    written unsuccessfully after the loop."""
    decoded: dict[str, M | Exception] = {}
    for record in records:
        try:
            decoded[identify(record)] = decode(record)
        except Exception as error:  # noqa: BLE001 - reported as that record's failure, in the loop below
            decoded[identify(record)] = error
    messages = [m for m in decoded.values() if not isinstance(m, Exception)]
    run = use_case.batch(messages)

    def handle(record: Any) -> None:
        message = decoded[identify(record.raw_event)]
        if isinstance(message, Exception):
            raise message
        run.handle(message)

    outcome = run.outcome
    outcome.failures += process(records, kind, handle)
    record_of = {id(m): record_id for record_id, m in decoded.items()}
    outcome.failures += [record_of[id(m)] for m in run.flush()]
    return outcome


# ---------------------------------------------------------------- Kinesis

def _sequence_number(record: dict[str, Any]) -> str:
    return record["kinesis"]["sequenceNumber"]


def stream_record(record: dict[str, Any]) -> StreamRecord:
    # the payload's model only: the envelope's other fields (invokeIdentityArn, …) are not read here
    kinesis = KinesisDataStreamRecordPayload.model_validate(record["kinesis"])
    return StreamRecord(kinesis.sequenceNumber, kinesis.partitionKey, kinesis.data)


def enriched_event(record: dict[str, Any]) -> EnrichedEvent:
    data = stream_record(record).data
    try:
        return EnrichedEvent.decode(data)
    except ValueError as error:  # pydantic's ValidationError is a ValueError, as json's is
        raise MalformedMessage(f"enriched-events record {_sequence_number(record)} is not an enriched event: "
                               f"{error}") from error


def customer_events(use_case: BatchUseCase, records: Records) -> BatchOutcome:
    """customer-events (Kinesis) → StreamRecord: enrich parses the event itself, reason-coded."""
    return run_batch(use_case, records, EventType.KinesisDataStreams, _sequence_number, stream_record)


def enriched_events(use_case: BatchUseCase, records: Records) -> BatchOutcome:
    """enriched-events (Kinesis) → EnrichedEvent."""
    return run_batch(use_case, records, EventType.KinesisDataStreams, _sequence_number, enriched_event)


# ---------------------------------------------------------------- SQS

def _message_id(record: dict[str, Any]) -> str:
    return record["messageId"]


def offer_message(record: dict[str, Any]) -> OfferMessage:
    # the data class, not the parser's SqsRecordModel: the local emulator's records carry no attributes
    body = SQSRecord(record).body
    try:
        return OfferMessage.decode(body)
    except ValueError as error:
        raise MalformedMessage(f"delivery message {_message_id(record)} is not an offer: {error}") from error


def offers(use_case: BatchUseCase, records: Records) -> BatchOutcome:
    """The delivery queue (SQS) → OfferMessage."""
    return run_batch(use_case, records, EventType.SQS, _message_id, offer_message)


# ---------------------------------------------------------------- SNS

def inbound_sms(use_case: SmsReplies, records: Records) -> BatchOutcome:
    """inbound-sms (SNS) → InboundSms, one by one: SNS invokes with one record, and a failure raises
    so Lambda retries the invocation, then sends it to the function's dead-letter queue."""
    outcome = BatchOutcome()
    for record in records:
        outcome.count(f"reply.{use_case.handle(InboundSms.model_validate_json(record['Sns']['Message']))}")
    return outcome
