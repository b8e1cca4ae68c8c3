"""Turns a batch outcome into CloudWatch metrics (Powertools EMF): counts, counts by outcome/reason/
channel, and distributions (each event's decision latency). The dashboard and the alarms read these
names (tests/integration/test_dashboard_metrics.py holds the two together)."""
from __future__ import annotations

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from marketing.app.batch import BatchOutcome

# count name prefix → (metric name, dimension name)
_DIMENSIONED = {"outcome": ("Decisions", "outcome"), "dead_lettered": ("DeadLettered", "reason"),
                "delivery": ("Deliveries", "status"), "reply": ("InboundSms", "result"), "sent": ("Sent", "channel")}
# sample name → (metric name, unit); EMF takes at most 100 values of a metric per document
_DISTRIBUTIONS = {"decision_latency_ms": ("DecisionLatency", MetricUnit.Milliseconds)}
MAX_VALUES = 100


def spread(values: list[float], most: int = MAX_VALUES) -> list[float]:
    """At most `most` values with the distribution of `values`: every value, or evenly spaced order
    statistics of them (minimum and maximum kept), so percentiles over them stay those of the batch."""
    if len(values) <= most:
        return list(values)
    ordered = sorted(values)
    return [ordered[round(i * (len(ordered) - 1) / (most - 1))] for i in range(most)]


def report(metrics: Metrics, outcome: BatchOutcome) -> None:
    if is_metrics_disabled():
        return
    for name, value in outcome.counts.items():
        prefix, _, key = name.partition(".")
        if prefix in _DIMENSIONED and key:
            metric, dimension = _DIMENSIONED[prefix]
            with single_metric(name=metric, unit=MetricUnit.Count, value=value,
                               namespace=metrics.namespace) as single:
                single.add_dimension(name=dimension, value=key)
        else:
            metrics.add_metric(name=name.title().replace("_", ""), unit=MetricUnit.Count, value=value)
    for name, values in outcome.samples.items():
        metric, unit = _DISTRIBUTIONS[name]
        for value in spread(values):
            metrics.add_metric(name=metric, unit=unit, value=value)
    if outcome.failures:
        metrics.add_metric(name="BatchItemFailures", unit=MetricUnit.Count, value=len(outcome.failures))
