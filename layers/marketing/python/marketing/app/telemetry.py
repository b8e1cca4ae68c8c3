"""Turns a batch outcome into CloudWatch metrics (Powertools EMF): counts, and counts by outcome/reason."""
from __future__ import annotations

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from marketing.app.batch import BatchOutcome

# count name prefix → (metric name, dimension name)
_DIMENSIONED = {"outcome": ("Decisions", "outcome"), "dead_lettered": ("DeadLettered", "reason"),
                "delivery": ("Deliveries", "status"), "reply": ("InboundSms", "result")}


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
    if outcome.failures:
        metrics.add_metric(name="BatchItemFailures", unit=MetricUnit.Count, value=len(outcome.failures))
