"""Decisioning: enrich and decide, each fed by a Kinesis event-source mapping configured from
resources.StreamMapping (overridable by context), plus the event path's dead-letter queues."""
from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import Context, Names
from infra.constructs.common import acknowledge, pascal, secure_queue
from infra.constructs.function import MarketingFunction
from infra.constructs.registry import Registry
from marketing import resources


class Decisioning(Construct):
    def __init__(self, scope: Construct, id: str, *, ctx: Context, names: Names, prefix: str, key: kms.IKey,
                 layer: lambda_.ILayerVersion, registry: Registry, log_retention: logs.RetentionDays,
                 removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, id)

        # Every queue not already deployed (by Delivery) belongs to the event path: events-dlq
        # (records enrich/decide refuse, with the reason) and the mappings' on-failure destinations.
        for spec in resources.QUEUES:
            if spec.logical in registry.queues:
                continue
            dead_letter = registry.queues[spec.dead_letter] if spec.dead_letter else None
            queue = secure_queue(self, spec, name=names(spec.logical), key=key, dead_letter=dead_letter,
                                 removal_policy=removal_policy)
            registry.queues[spec.logical] = queue
            if dead_letter is None:
                acknowledge(queue, "AwsSolutions-SQS3",
                            f"{spec.logical} is itself a terminal dead-letter destination (refused records or "
                            "exhausted Kinesis retries); its depth alarms in Observability instead of redriving.")

        self.functions: dict[str, MarketingFunction] = {}
        self.mappings: dict[str, resources.StreamMapping] = {}
        for described in resources.FUNCTIONS:
            if not isinstance(described.source, resources.StreamMapping):
                continue
            spec = ctx.function(described)
            mapping = ctx.stream_mapping(described)
            fn = MarketingFunction(
                self, pascal(spec.logical), spec=spec, function_name=names(spec.logical), prefix=prefix,
                layer=layer, registry=registry, key=key, log_retention=log_retention,
                removal_policy=removal_policy,
                reserved_concurrency=ctx.int(f"{spec.logical}ReservedConcurrency", None, minimum=1),
            )
            fn.function.add_event_source(sources.KinesisEventSource(
                registry.streams[mapping.stream],
                starting_position=lambda_.StartingPosition[mapping.starting_position],
                batch_size=mapping.batch_size,
                max_batching_window=Duration.seconds(mapping.max_batching_window_s),
                parallelization_factor=mapping.parallelization_factor,
                retry_attempts=mapping.max_retry_attempts,
                max_record_age=Duration.seconds(mapping.max_record_age_s),
                bisect_batch_on_error=mapping.bisect_on_error,
                report_batch_item_failures=True,
                on_failure=sources.SqsDlq(registry.queues[mapping.on_failure_queue]),
            ))
            self.functions[spec.logical] = fn
            self.mappings[spec.logical] = mapping
