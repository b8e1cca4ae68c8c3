"""Reports: the bucket campaign evaluations write their reports to (and every other described
bucket not created by a more specific construct)."""
from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constructs.common import pascal, secure_bucket
from infra.constructs.registry import Registry
from marketing import resources


class Reports(Construct):
    def __init__(self, scope: Construct, id: str, *, key: kms.IKey, access_logs: s3.IBucket,
                 registry: Registry, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, id)
        for spec in resources.BUCKETS:
            if spec.logical not in registry.buckets:
                registry.buckets[spec.logical] = secure_bucket(
                    self, f"{pascal(spec.logical)}Bucket", key=key, access_logs=access_logs,
                    removal_policy=removal_policy)
