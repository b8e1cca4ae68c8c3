"""State: the DynamoDB tables of resources.TABLES (on-demand, PITR, customer-managed KMS, TTL)."""
from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.config import Names
from infra.constructs.common import pascal
from marketing import resources

_TYPES = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER,
          "B": dynamodb.AttributeType.BINARY}


def _attribute(key: resources.Key) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=key.name, type=_TYPES[key.type])


class State(Construct):
    def __init__(self, scope: Construct, id: str, *, names: Names, key: kms.IKey,
                 removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, id)
        self.tables: dict[str, dynamodb.Table] = {}
        for spec in resources.TABLES:
            table = dynamodb.Table(
                self, pascal(spec.logical),
                table_name=names(spec.logical),
                partition_key=_attribute(spec.partition),
                sort_key=_attribute(spec.sort) if spec.sort else None,
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
                encryption_key=key,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True),
                time_to_live_attribute=spec.ttl_attribute,
                deletion_protection=removal_policy == RemovalPolicy.RETAIN,
                removal_policy=removal_policy,
            )
            for index in spec.indexes:
                table.add_global_secondary_index(
                    index_name=index.name,
                    partition_key=_attribute(index.partition),
                    sort_key=_attribute(index.sort) if index.sort else None,
                    projection_type=dynamodb.ProjectionType.ALL,
                )
            self.tables[spec.logical] = table
