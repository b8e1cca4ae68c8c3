"""MarketingStack: the whole product in one stack, one construct per capability."""
from __future__ import annotations

from pathlib import Path

from aws_cdk import Annotations, CfnOutput, RemovalPolicy, Stack, Tags
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import Context, ContextError, Names
from marketing import resources
from infra.constructs.common import acknowledge
from infra.constructs.decision_log import DecisionLog
from infra.constructs.decisioning import Decisioning
from infra.constructs.delivery import Delivery
from infra.constructs.function import ARCHITECTURE, RUNTIME
from infra.constructs.ingestion import Ingestion
from infra.constructs.observability import Observability
from infra.constructs.registry import Registry
from infra.constructs.reports import Reports
from infra.constructs.responses import Responses
from infra.constructs.security import Security
from infra.constructs.state import State
from infra.constructs.lifecycle import Workflows


class MarketingStack(Stack):
    def __init__(self, scope: Construct, id: str, *, layer_dir: Path, layer_has_dependencies: bool,
                 **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        ctx = Context(self)
        prefix = self.stack_name
        names = Names(prefix)
        retention = ctx.str("removalPolicy", "retain")
        if retention not in ("retain", "destroy"):
            raise ContextError(f"CDK context removalPolicy={retention!r}: retain | destroy")
        removal = RemovalPolicy.RETAIN if retention == "retain" else RemovalPolicy.DESTROY
        log_retention = ctx.retention("logRetentionDays", 30)
        Tags.of(self).add("project", "event-marketing")
        Tags.of(self).add("marketing:stack", prefix)

        self.registry = registry = Registry()
        self.security = Security(self, "Security", prefix=prefix, removal_policy=removal,
                                 access_log_days=ctx.int("accessLogRetentionDays", 365, minimum=1))
        key, access_logs = self.security.key, self.security.access_logs

        self.ingestion = Ingestion(self, "Ingestion", ctx=ctx, names=names, key=key, removal_policy=removal)
        registry.streams.update(self.ingestion.streams)
        self.state = State(self, "State", names=names, key=key, removal_policy=removal)
        registry.tables.update(self.state.tables)
        self.decision_log = DecisionLog(self, "DecisionLog", names=names, key=key, access_logs=access_logs,
                                        registry=registry, log_retention=log_retention, removal_policy=removal)
        self.reports = Reports(self, "Reports", key=key, access_logs=access_logs, registry=registry,
                               removal_policy=removal)

        self.layer = lambda_.LayerVersion(
            self, "SharedLayer",
            code=lambda_.Code.from_asset(str(layer_dir)),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="marketing domain package, event catalog and runtime dependencies",
            removal_policy=RemovalPolicy.RETAIN,   # older function versions keep working
        )
        if not layer_has_dependencies:
            Annotations.of(self.layer).add_warning_v2(
                "marketing:LayerWithoutDependencies",
                "build/layer has no runtime dependencies (pydantic, PyYAML, Jinja2, Powertools): fine for "
                "synth and tests, but the functions would fail at import once deployed. Run `make layer` "
                "before `cdk deploy`.")

        common = dict(ctx=ctx, names=names, prefix=prefix, key=key, layer=self.layer, registry=registry,
                      log_retention=log_retention, removal_policy=removal)
        self.delivery = Delivery(self, "Delivery", **common)          # first: decide sends to its queue
        self.responses = Responses(self, "Responses", **common)        # before Decisioning: its DLQ is its own
        self.decisioning = Decisioning(self, "Decisioning", **common)
        self.observability = Observability(
            self, "Observability", ctx=ctx, names=names, prefix=prefix, key=key, registry=registry,
            stream_functions=self.decisioning.functions,
            queue_functions={**self.delivery.functions, **self.responses.functions})

        self.workflows = Workflows(self, "Workflows", ops_topic=self.observability.topic, **common)

        acknowledge(self, "CloudFormation-Validate::W7001",
                    "The unused Mappings entry awscdkawskinesisfirehoseCidrBlocks is emitted by aws-cdk-lib's "
                    "Firehose construct for Redshift/Splunk destinations; the S3 destination never needs it.")

        # One output per described resource, keyed by its env var, so a CLI can find a deployed
        # stack's resources (CloudFormation drops the underscores from the key: CUSTOMEREVENTSSTREAM;
        # the description carries the env var name as written).
        for spec, _construct, value in registry.everything():
            CfnOutput(self, spec.env, value=value, description=spec.env)
        CfnOutput(self, "OPS_TOPIC_ARN", value=self.observability.topic.topic_arn, description="OPS_TOPIC_ARN")
        CfnOutput(self, "DASHBOARD_NAME", value=f"{prefix}-operations", description="DASHBOARD_NAME")
        for machine, spec in ((self.workflows.approval, resources.APPROVAL), (self.workflows.evaluation, resources.EVALUATION)):
            CfnOutput(self, spec.env, value=machine.state_machine_arn, description=spec.env)
        CfnOutput(self, "APPROVAL_LINK_URL", value=self.workflows.api.url, description="APPROVAL_LINK_URL")
        if self.responses.api is not None:
            CfnOutput(self, "OFFER_API_URL", value=self.responses.api.api_endpoint, description="OFFER_API_URL")
