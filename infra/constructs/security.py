"""Security: the customer-managed KMS key every store uses, and the access-log bucket."""
from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constructs.common import acknowledge


class Security(Construct):
    def __init__(self, scope: Construct, id: str, *, prefix: str, removal_policy: RemovalPolicy,
                 access_log_days: int) -> None:
        super().__init__(scope, id)

        self.key = kms.Key(
            self, "Key",
            alias=f"alias/{prefix}",
            description=f"{prefix}: encrypts streams, tables, queues, topics, buckets and the decision log",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        # CloudWatch alarms publish to the KMS-encrypted ops topic: the service must use the key.
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid="AllowCloudWatchAlarmsToEncryptedTopic",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
        ))

        # Every log group of the stack is on this key: CloudWatch Logs in this region and account may use
        # it for log groups of this account only (the encryption context names the log group).
        stack = Stack.of(self)
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid="AllowCloudWatchLogsOfThisAccount",
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            resources=["*"],
            conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                                    f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:*"}},
        ))

        # Server access logs of every other bucket. S3 log delivery writes only to SSE-S3 buckets.
        self.access_logs = s3.Bucket(
            self, "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            lifecycle_rules=[s3.LifecycleRule(
                id="expire-access-logs",
                expiration=Duration.days(access_log_days),
                noncurrent_version_expiration=Duration.days(7),
                abort_incomplete_multipart_upload_after=Duration.days(7),
            )],
            removal_policy=removal_policy,
        )
        acknowledge(self.access_logs, "AwsSolutions-S1",
                    "This is the server-access-log destination of every other bucket; logging its own "
                    "access into itself would recurse, and CloudTrail data events cover it if needed.")
