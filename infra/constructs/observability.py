"""Observability: the ops topic (encrypted), alarms on every dead-letter depth, Kinesis iterator age,
Lambda errors and throttles, and one dashboard of the product's own metrics (namespace EventMarketing)."""
from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.config import Context, Names
from infra.constructs.common import METRICS_NAMESPACE, pascal
from infra.constructs.function import MarketingFunction
from infra.constructs.registry import Registry
from marketing import resources

OUTCOMES = ("sent", "deferred", "holdout", "throttled", "suppressed", "not_eligible", "expired",
            "lost_arbitration", "failed")
FIVE_MINUTES = Duration.minutes(5)


def search(metric_name: str, statistic: str, *, label: str = "") -> cw.MathExpression:
    """Every series of one product metric, whatever its dimensions (Powertools adds `service`)."""
    return cw.MathExpression(
        expression=f"SEARCH('Namespace=\"{METRICS_NAMESPACE}\" MetricName=\"{metric_name}\"', "
                   f"'{statistic}', 300)",
        using_metrics={}, label=label, period=FIVE_MINUTES)


class Observability(Construct):
    def __init__(self, scope: Construct, id: str, *, ctx: Context, names: Names, prefix: str, key: kms.IKey,
                 registry: Registry, stream_functions: dict[str, MarketingFunction],
                 queue_functions: dict[str, MarketingFunction]) -> None:
        super().__init__(scope, id)
        self.topic = sns.Topic(self, "OpsTopic", topic_name=names("ops"), display_name=f"{prefix} operations",
                               master_key=key, enforce_ssl=True)
        email = ctx.str("alarmEmail", None)
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        action = actions.SnsAction(self.topic)
        self.alarms: dict[str, cw.Alarm] = {}

        def alarm(id: str, metric: cw.IMetric, *, threshold: float, description: str, periods: int = 1,
                  comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD) -> cw.Alarm:
            created = cw.Alarm(self, id, alarm_name=f"{prefix}-{id}", alarm_description=description,
                               metric=metric, threshold=threshold, evaluation_periods=periods,
                               datapoints_to_alarm=periods, comparison_operator=comparison,
                               treat_missing_data=cw.TreatMissingData.NOT_BREACHING)
            created.add_alarm_action(action)
            created.add_ok_action(action)
            self.alarms[id] = created
            return created

        dead_letters = [q for q in resources.QUEUES if q.dead_letter is None]   # terminal queues
        for spec in dead_letters:
            queue = registry.queues[spec.logical]
            alarm(f"{pascal(spec.logical)}Depth",
                  queue.metric_approximate_number_of_messages_visible(statistic="Maximum",
                                                                      period=Duration.minutes(1)),
                  threshold=0, description=f"Messages are waiting in the dead-letter queue {spec.logical}. "
                                           f"{spec.runbook} (README: Runbook)")
        max_age = ctx.int("deliveryAgeAlarmSeconds", 900, minimum=60)
        for spec in resources.QUEUES:
            if spec.dead_letter is not None:
                alarm(f"{pascal(spec.logical)}Age",
                      registry.queues[spec.logical].metric_approximate_age_of_oldest_message(
                          statistic="Maximum", period=Duration.minutes(1)),
                      threshold=max_age, periods=3,
                      description=f"The oldest message in {spec.logical} is older than {max_age}s: deliver is "
                                  "falling behind or failing.")

        iterator_age_ms = 1000 * ctx.int("iteratorAgeAlarmSeconds", 60, minimum=1)
        functions = {**stream_functions, **queue_functions}
        for logical, fn in stream_functions.items():
            alarm(f"{pascal(logical)}IteratorAge",
                  fn.function.metric("IteratorAge", statistic="Maximum", period=Duration.minutes(1)),
                  threshold=iterator_age_ms, periods=3,
                  description=f"{logical} is more than {iterator_age_ms // 1000}s behind its Kinesis stream.")
        for logical, fn in functions.items():
            alarm(f"{pascal(logical)}Errors", fn.function.metric_errors(statistic="Sum", period=FIVE_MINUTES),
                  threshold=1, comparison=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                  description=f"{logical} invocations failed as a whole (not partial batch failures).")
            alarm(f"{pascal(logical)}Throttles",
                  fn.function.metric_throttles(statistic="Sum", period=FIVE_MINUTES),
                  threshold=1, comparison=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                  description=f"{logical} was throttled: raise its concurrency or the account limit.")
        for spec in resources.DELIVERY_STREAMS:
            stream = registry.delivery_streams[spec.logical]
            alarm(f"{pascal(spec.logical)}FirehoseFreshness",
                  stream.metric("DeliveryToS3.DataFreshness", statistic="Maximum", period=FIVE_MINUTES),
                  threshold=max(900, 3 * spec.buffer_interval_s),
                  description=f"Decision records in {names(spec.logical)} are not reaching S3.")

        # --- dashboard -------------------------------------------------------------------------
        streams = [registry.streams[s.logical] for s in resources.STREAMS]
        dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=f"{prefix}-operations",
                                 default_interval=Duration.hours(3))
        dashboard.add_widgets(
            cw.GraphWidget(title="Events in (records/5 min)", width=8, left=[
                s.metric_incoming_records(statistic="Sum", period=FIVE_MINUTES, label=s.stream_name)
                for s in streams]),
            cw.GraphWidget(title="Decisions by outcome", width=8, stacked=True,
                           left=[search("Decisions", "Sum")]),
            cw.GraphWidget(title="Sent by channel", width=8, stacked=True, left=[search("Sent", "Sum")]),
        )
        dashboard.add_widgets(
            cw.GraphWidget(title="Dead-lettered by reason", width=8, left=[search("DeadLettered", "Sum")]),
            cw.GraphWidget(title="Decision latency (ms)", width=8, left=[
                search("DecisionLatency", "p50", label="p50"), search("DecisionLatency", "p99", label="p99")]),
            cw.GraphWidget(title="Iterator age (ms)", width=8, left=[
                fn.function.metric("IteratorAge", statistic="Maximum", period=Duration.minutes(1),
                                   label=logical) for logical, fn in stream_functions.items()]),
        )
        dashboard.add_widgets(
            cw.GraphWidget(title="Lambda errors and throttles", width=8, left=[
                fn.function.metric_errors(statistic="Sum", period=FIVE_MINUTES, label=f"{logical} errors")
                for logical, fn in functions.items()], right=[
                fn.function.metric_throttles(statistic="Sum", period=FIVE_MINUTES, label=f"{logical} throttles")
                for logical, fn in functions.items()]),
            cw.GraphWidget(title="Lambda duration p99 (ms)", width=8, left=[
                fn.function.metric_duration(statistic="p99", period=FIVE_MINUTES, label=logical)
                for logical, fn in functions.items()]),
            cw.GraphWidget(title="Queue depth", width=8, left=[
                registry.queues[q.logical].metric_approximate_number_of_messages_visible(
                    statistic="Maximum", period=Duration.minutes(1), label=q.logical)
                for q in resources.QUEUES]),
        )
        dashboard.add_widgets(cw.AlarmStatusWidget(title="Alarms", width=24,
                                                   alarms=list(self.alarms.values())))
        self.dashboard = dashboard
