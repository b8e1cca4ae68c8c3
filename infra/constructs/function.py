"""One Lambda function of resources.FUNCTIONS: its own role, log group, the shared layer, its
environment and least-privilege grants, both from what it `uses` (resources.Use: a resource and a mode)."""
from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.common import METRICS_NAMESPACE, acknowledge, pascal
from infra.constructs.registry import Registry
from marketing import resources

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.X86_64          # the layer's wheels are manylinux2014_x86_64

# CDK's grant methods on KMS-encrypted streams, queues and tables add these action families,
# always on the one customer-managed key of the stack (Resource = the key's ARN, never '*').
KMS_GRANT_ACTIONS = ("kms:GenerateDataKey*", "kms:ReEncrypt*")
KMS_GRANT_REASON = ("Added by CDK grants for the KMS-encrypted stream/queue/table; scoped to this stack's single "
                    "customer-managed key ARN, and the data-key and re-encrypt variants are all needed by SSE.")

_SERVICE = {dynamodb.Table: "dynamodb", kinesis.Stream: "kinesis", sqs.Queue: "sqs",
            firehose.DeliveryStream: "firehose", s3.Bucket: "s3", sns.Topic: "sns"}
# what using the stack's key takes, beside the calls: reading decrypts; anything that writes also encrypts
# with fresh data keys (SSE on streams, queues, topics, tables and buckets)
_KMS_READ = ("kms:Decrypt", "kms:DescribeKey")
_KMS_WRITE = ("kms:Decrypt", "kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*")


def _grant(construct, use: resources.Use, grantee: iam.IGrantable, key: kms.IKey) -> None:
    """Exactly the calls `use` names, on its resource (a table's indexes too when it queries them), and
    the key; a use that names no calls gets its mode's CDK grant family."""
    if not use.calls:
        _grant_family(construct, use.mode, grantee)
        return
    service = next((name for kind, name in _SERVICE.items() if isinstance(construct, kind)), None)
    if service is None:
        raise TypeError(f"no grant for {type(construct).__name__}")
    if isinstance(construct, dynamodb.Table):
        arns = [construct.table_arn] + ([f"{construct.table_arn}/index/*"]
                                        if "Query" in use.calls and _has_indexes(construct) else [])
    elif isinstance(construct, s3.Bucket):
        arns = ([construct.bucket_arn] if "ListBucket" in use.calls else []) + (
            [construct.arn_for_objects("*")] if set(use.calls) - {"ListBucket"} else [])
    else:
        arns = [{kinesis.Stream: lambda c: c.stream_arn, sqs.Queue: lambda c: c.queue_arn,
                 firehose.DeliveryStream: lambda c: c.delivery_stream_arn,
                 sns.Topic: lambda c: c.topic_arn}[type(construct)](construct)]
    iam.Grant.add_to_principal(grantee=grantee, actions=[f"{service}:{call}" for call in sorted(use.calls)],
                               resource_arns=arns)
    if not isinstance(construct, firehose.DeliveryStream):   # Firehose encrypts as the service, not the caller
        key.grant(grantee, *(_KMS_READ if use.mode is resources.Access.READ else _KMS_WRITE))


def _grant_family(construct, mode: resources.Access, grantee: iam.IGrantable) -> None:
    grants = {
        dynamodb.Table: {"read": "grant_read_data", "write": "grant_write_data",
                         "read_write": "grant_read_write_data"},
        kinesis.Stream: {"read": "grant_read", "write": "grant_write"},
        sqs.Queue: {"send": "grant_send_messages", "consume": "grant_consume_messages"},
        firehose.DeliveryStream: {"put": "grant_put_records"},
        s3.Bucket: {"read": "grant_read", "write": "grant_put", "read_write": "grant_read_write"},
        sns.Topic: {"publish": "grant_publish"},
    }
    for kind, modes in grants.items():
        if isinstance(construct, kind):
            if mode not in modes:
                raise ValueError(f"access mode {mode!r} is not one of {sorted(modes)} for {kind.__name__}")
            getattr(construct, modes[mode])(grantee)
            return
    raise TypeError(f"no grant for {type(construct).__name__}")


def _has_indexes(table: dynamodb.Table) -> bool:
    """State names each table's construct after its resources.Table (pascal of the logical name)."""
    return any(spec.indexes and pascal(spec.logical) == table.node.id for spec in resources.TABLES)


class MarketingFunction(Construct):
    """`self.function` is the lambda_.Function; `self.role` its execution role (no managed policies)."""

    def __init__(self, scope: Construct, id: str, *, spec: resources.Function, function_name: str,
                 prefix: str, layer: lambda_.ILayerVersion, registry: Registry, key: kms.IKey,
                 log_retention: logs.RetentionDays, removal_policy: RemovalPolicy,
                 reserved_concurrency: int | None = None, extra_environment: dict[str, str] | None = None):
        super().__init__(scope, id)
        environment = {
            "POWERTOOLS_SERVICE_NAME": spec.logical,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "RESOURCE_PREFIX": prefix,
        }
        resolved = []
        for use in spec.uses:
            construct, value = registry.resolve(use.resource)
            environment[use.resource.env] = value
            resolved.append((construct, use))
        environment.update(extra_environment or {})

        self.role = iam.Role(
            self, "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{function_name}: only what resources.{spec.logical.upper()} uses",
        )
        self.log_group = logs.LogGroup(
            self, "Logs",
            log_group_name=f"/aws/lambda/{function_name}",
            retention=log_retention,
            encryption_key=key,
            removal_policy=removal_policy,
        )
        self.log_group.grant_write(self.role)

        self.function = lambda_.Function(
            self, "Function",
            function_name=function_name,
            description=f"{prefix} {spec.logical} (functions/{spec.handler_dir}/handler.py)",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=lambda_.Code.from_asset(str(ROOT / "functions" / spec.handler_dir)),
            handler="handler.handler",
            layers=[layer],
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_s),
            tracing=lambda_.Tracing.ACTIVE,
            role=self.role,
            log_group=self.log_group,
            environment=environment,
            reserved_concurrent_executions=reserved_concurrency,
        )
        for construct, use in resolved:
            _grant(construct, use, self.function, key)

        # Scoped to the role's default policy (where tracing and the grants put their statements).
        policy = self.role.node.find_child("DefaultPolicy")
        acknowledge(policy, "AwsSolutions-IAM5[Resource::*]",
                    "Active X-Ray tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, which "
                    "support no resource-level permissions, so AWS requires Resource '*' for them.")
        for action in KMS_GRANT_ACTIONS:
            acknowledge(policy, f"AwsSolutions-IAM5[Action::{action}]", KMS_GRANT_REASON)
        for construct, _mode in resolved:  # CDK's table grants cover the table's indexes as `<arn>/index/*`
            if isinstance(construct, dynamodb.Table) and _has_indexes(construct):
                stack = Stack.of(construct)
                logical_id = stack.resolve(stack.get_logical_id(construct.node.default_child))
                acknowledge(policy, f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/index/*]",
                            "CDK's table grant covers the table's own global secondary indexes (index/*) so the "
                            "function can Query them (e.g. by-msisdn, by-campaign); no other table is matched.")
        for construct, use in resolved:  # a bucket's objects are `<arn>/*`: the function chooses the keys it writes
            if isinstance(construct, s3.Bucket) and set(use.calls) - {"ListBucket"}:
                stack = Stack.of(construct)
                logical_id = stack.resolve(stack.get_logical_id(construct.node.default_child))
                acknowledge(policy, f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/*]",
                            f"{spec.logical} {'/'.join(use.calls)} objects under keys it names itself (e.g. one "
                            "per dead letter, by day), so the grant is every object of this one bucket only.")
        acknowledge(self.function, "AwsSolutions-L1",
                    "Python 3.12 is pinned on purpose: infra/build_layer.py builds the shared layer's binary "
                    "wheels (pydantic-core, PyYAML, MarkupSafe) for cp312; runtime and layer move together.")
