"""Alarms on every dead-letter depth, on iterator age, on Lambda errors and throttles; one dashboard."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.helpers import refers_to
from marketing import resources

DEAD_LETTER_QUEUES = [q for q in resources.QUEUES if q.dead_letter is None]
STREAM_FUNCTIONS = [f for f in resources.FUNCTIONS if isinstance(f.source, resources.StreamMapping)]


def _alarms(synth, metric: str, namespace: str, dimension: str, target: str) -> list[dict]:
    found = []
    for alarm in synth.resources("AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        if props.get("MetricName") != metric or props.get("Namespace") != namespace:
            continue
        if any(d["Name"] == dimension and refers_to(d["Value"], target) for d in props.get("Dimensions", [])):
            found.append(props)
    return found


def _notifies_ops(synth, props) -> bool:
    topic = synth.by_property("AWS::SNS::Topic", "TopicName", synth.name("ops"))
    return any(refers_to(a, topic) for a in props.get("AlarmActions", []))


def test_dead_letter_queues_include_every_failure_destination():
    names = {q.logical for q in DEAD_LETTER_QUEUES}
    for f in resources.FUNCTIONS:
        if isinstance(f.source, resources.StreamMapping):
            assert f.source.on_failure_queue in names
    assert {q.dead_letter for q in resources.QUEUES if q.dead_letter} <= names


@pytest.mark.parametrize("queue", DEAD_LETTER_QUEUES, ids=lambda q: q.logical)
def test_alarm_on_dead_letter_depth(synth, queue):
    (alarm,) = _alarms(synth, "ApproximateNumberOfMessagesVisible", "AWS/SQS", "QueueName",
                       synth.queue(queue.logical))
    assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert _notifies_ops(synth, alarm)
    assert queue.runbook and queue.runbook in alarm["AlarmDescription"]  # what to do, where the page lands


@pytest.mark.parametrize("queue", DEAD_LETTER_QUEUES, ids=lambda q: q.logical)
def test_the_readme_runbook_says_what_to_do_for_each_dead_letter_queue(queue):
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    runbook = readme.split("## Runbook", 1)[1].split("\n## ", 1)[0]
    assert f"`{queue.logical}`" in runbook


@pytest.mark.parametrize("function", STREAM_FUNCTIONS, ids=lambda f: f.logical)
def test_alarm_on_iterator_age(synth, function):
    (alarm,) = _alarms(synth, "IteratorAge", "AWS/Lambda", "FunctionName", synth.function(function.logical))
    assert alarm["Statistic"] == "Maximum" and alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert 0 < alarm["Threshold"] <= 15 * 60 * 1000
    assert _notifies_ops(synth, alarm)


@pytest.mark.parametrize("function", resources.FUNCTIONS, ids=lambda f: f.logical)
@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_alarm_on_lambda_errors_and_throttles(synth, function, metric):
    (alarm,) = _alarms(synth, metric, "AWS/Lambda", "FunctionName", synth.function(function.logical))
    assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert _notifies_ops(synth, alarm)


def test_dashboard_shows_product_metrics(synth):
    body = synth.props(synth.only("AWS::CloudWatch::Dashboard"))["DashboardBody"]
    text = "".join(part for part in body["Fn::Join"][1] if isinstance(part, str))
    assert 'Namespace=\\"EventMarketing\\"' in text
    for metric in ("Decisions", "Sent", "DeadLettered", "DecisionLatency"):   # product metrics (SEARCH)
        assert f'MetricName=\\"{metric}\\"' in text, metric
    for metric in ("IncomingRecords", "IteratorAge", "ApproximateNumberOfMessagesVisible"):
        assert f'"{metric}"' in text, metric
