"""The event-source mappings run exactly as resources.py describes (partial failures, bounded retries)."""
from __future__ import annotations

import pytest

from tests.infra.helpers import refers_to
from marketing import resources

STREAM_FUNCTIONS = [f for f in resources.FUNCTIONS if isinstance(f.source, resources.StreamMapping)]
QUEUE_FUNCTIONS = [f for f in resources.FUNCTIONS if isinstance(f.source, resources.QueueMapping)]


def _mapping_of(synth, function: resources.Function) -> dict:
    fn_id = synth.function(function.logical)
    found = [m["Properties"] for m in synth.resources("AWS::Lambda::EventSourceMapping").values()
             if m["Properties"]["FunctionName"] == {"Ref": fn_id}]
    assert len(found) == 1, f"{function.logical}: expected one event-source mapping, found {len(found)}"
    return found[0]


def test_every_function_with_a_source_has_a_mapping(synth):
    assert STREAM_FUNCTIONS and QUEUE_FUNCTIONS
    assert len(synth.resources("AWS::Lambda::EventSourceMapping")) == len(
        [f for f in resources.FUNCTIONS if isinstance(f.source, resources.StreamMapping | resources.QueueMapping)])


@pytest.mark.parametrize("function", STREAM_FUNCTIONS, ids=lambda f: f.logical)
def test_kinesis_mapping_matches_resources(synth, function):
    source: resources.StreamMapping = function.source
    m = _mapping_of(synth, function)
    assert refers_to(m["EventSourceArn"], synth.stream(source.stream))
    assert m["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert m["BisectBatchOnFunctionError"] is source.bisect_on_error
    assert m["MaximumRetryAttempts"] == source.max_retry_attempts
    assert m["MaximumRecordAgeInSeconds"] == source.max_record_age_s
    assert m["ParallelizationFactor"] == source.parallelization_factor
    assert m["BatchSize"] == source.batch_size
    assert m["MaximumBatchingWindowInSeconds"] == source.max_batching_window_s
    assert m["StartingPosition"] == source.starting_position
    assert refers_to(m["DestinationConfig"]["OnFailure"]["Destination"], synth.queue(source.on_failure_queue))


@pytest.mark.parametrize("function", QUEUE_FUNCTIONS, ids=lambda f: f.logical)
def test_sqs_mapping_matches_resources(synth, function):
    source: resources.QueueMapping = function.source
    m = _mapping_of(synth, function)
    assert refers_to(m["EventSourceArn"], synth.queue(source.queue))
    assert m["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert m["BatchSize"] == source.batch_size
    assert m["ScalingConfig"]["MaximumConcurrency"] == source.max_concurrency
    assert m.get("MaximumBatchingWindowInSeconds", 0) == source.max_batching_window_s


@pytest.mark.parametrize("queue", [q for q in resources.QUEUES if q.dead_letter], ids=lambda q: q.logical)
def test_redrive_to_dead_letter_queue(synth, queue):
    redrive = synth.props(synth.queue(queue.logical))["RedrivePolicy"]
    assert refers_to(redrive["deadLetterTargetArn"], synth.queue(queue.dead_letter))
    assert redrive["maxReceiveCount"] == queue.max_receive_count


def test_delivery_queue_outlasts_the_deliver_function(synth):
    # SQS must not redeliver a message while deliver may still be working on it.
    for function in QUEUE_FUNCTIONS:
        queue = synth.props(synth.queue(function.source.queue))
        assert queue["VisibilityTimeout"] >= synth.props(synth.function(function.logical))["Timeout"]
