"""Ingestion: the Kinesis streams upstream publishes to (customer-events) and enrich feeds (enriched-events)."""
from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.config import Context, Names
from infra.constructs.common import acknowledge, pascal
from marketing import resources


class Ingestion(Construct):
    def __init__(self, scope: Construct, id: str, *, ctx: Context, names: Names, key: kms.IKey,
                 removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, id)
        self.streams: dict[str, kinesis.Stream] = {}
        for described in resources.STREAMS:
            spec = ctx.stream(described)
            self.streams[spec.logical] = kinesis.Stream(
                self, pascal(spec.logical),
                stream_name=names(spec.logical),
                stream_mode=kinesis.StreamMode.PROVISIONED,
                shard_count=spec.shards,
                retention_period=Duration.hours(spec.retention_hours),
                encryption=kinesis.StreamEncryption.KMS,
                encryption_key=key,
                removal_policy=removal_policy,
            )
            acknowledge(self.streams[spec.logical], "AwsSolutions-KDS3",
                        "A customer-managed key is a product requirement: one key, rotated, whose policy and "
                        "CloudTrail usage the operator controls for subscriber data (cost noted in README).")
