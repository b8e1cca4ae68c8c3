"""Workflows: the campaign lifecycle. The approval and evaluation state machines (ASL from
marketing.state_machines, the same the local stack runs), their task functions, the approvers' and owners'
topics, the approval-link API, and an alarm on failed executions to the ops topic."""
from __future__ import annotations

import json

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.config import Context, Names
from infra.constructs.common import acknowledge, pascal
from infra.constructs.function import MarketingFunction
from infra.constructs.registry import Registry
from marketing import resources
from marketing.state_machines import Timings, approval_definition, evaluation_definition

XRAY_LOGS_REASON = ("Step Functions' X-Ray tracing (xray:PutTraceSegments/PutTelemetryRecords/GetSampling*) and "
                    "CloudWatch Logs delivery (logs:CreateLogDelivery, PutResourcePolicy, DescribeLogGroups...) "
                    "support no resource-level permissions, so AWS requires Resource '*' for them.")


class Workflows(Construct):
    def __init__(self, scope: Construct, id: str, *, ctx: Context, names: Names, prefix: str, key: kms.IKey,
                 layer: lambda_.ILayerVersion, registry: Registry, log_retention: logs.RetentionDays,
                 removal_policy: RemovalPolicy, ops_topic: sns.ITopic) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)

        for spec in resources.WORKFLOW_TOPICS:
            registry.topics[spec.logical] = sns.Topic(
                self, f"{pascal(spec.logical)}Topic", topic_name=names(spec.logical), master_key=key,
                enforce_ssl=True, display_name=f"{prefix} {spec.logical}")
        for context_key, topic in (("approverEmail", resources.APPROVALS_TOPIC.logical),
                                   ("ownerEmail", resources.OWNERS_TOPIC.logical)):
            email = ctx.str(context_key, None)
            if email:
                registry.topics[topic].add_subscription(subscriptions.EmailSubscription(email))

        approval_name = names(resources.APPROVAL.logical)
        approval_arn = stack.format_arn(service="states", resource="stateMachine", resource_name=approval_name,
                                        arn_format=ArnFormat.COLON_RESOURCE_NAME)
        heartbeat_minutes = ctx.int("approvalHeartbeatMinutes", None, minimum=1)
        timings = Timings(approval_timeout_s=3600 * ctx.int("approvalTimeoutHours", 72, minimum=1, maximum=8760),
                          approval_heartbeat_s=60 * heartbeat_minutes if heartbeat_minutes else None)
        common = dict(prefix=prefix, layer=layer, registry=registry, key=key, log_retention=log_retention,
                      removal_policy=removal_policy)
        settings = {"APPROVAL_BUDGET_THRESHOLD": str(ctx.int("approvalBudgetThreshold", 100_000, minimum=0))}

        def function(spec: resources.Function, **extra_environment: str) -> MarketingFunction:
            spec = ctx.function(spec)
            return MarketingFunction(self, pascal(spec.logical), spec=spec, function_name=names(spec.logical),
                                     extra_environment={**settings, **extra_environment}, **common)

        # The approval link: API Gateway → approval-link (the same decide use case as the CLI).
        link = function(resources.APPROVAL_LINK, APPROVAL_STATE_MACHINE_ARN=approval_arn)
        # by ARN, not by reference: the state machine depends (through request-approval's env) on this API
        link.function.add_to_role_policy(iam.PolicyStatement(
            actions=["states:SendTaskSuccess", "states:SendTaskFailure"], resources=[approval_arn]))
        access_logs = logs.LogGroup(self, "ApprovalApiAccessLogs", retention=log_retention, encryption_key=key,
                                    removal_policy=removal_policy)
        self.api = apigw.LambdaRestApi(
            self, "ApprovalApi", rest_api_name=names("approval-link"), handler=link.function, proxy=True,
            cloud_watch_role=False,
            deploy_options=apigw.StageOptions(
                stage_name="v1", tracing_enabled=True, throttling_rate_limit=10, throttling_burst_limit=20,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False, http_method=True, ip=True, protocol=True, request_time=True,
                    resource_path=True, response_length=True, status=True, user=False)),
        )
        reason_auth = ("The approval link is opened from an approver's email in a plain browser: it cannot sign "
                       "requests or carry a Cognito token. Each link holds a random 128-bit request id checked "
                       "against the audit table, and the decide use case enforces who may approve.")
        for rule in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
            acknowledge(self.api, rule, reason_auth)
        acknowledge(self.api, "AwsSolutions-APIG2",
                    "A proxy integration: the approval-link function validates the path, the form and the "
                    "request id itself and answers 400/404/409, so API Gateway request validation adds nothing.")
        acknowledge(self.api, "AwsSolutions-APIG3",
                    "A low-volume internal approval page throttled at 10 requests/s on its stage; WAF is an "
                    "account-level choice the operator can attach without changing this stack.")
        acknowledge(self.api, "AwsSolutions-APIG6",
                    "Execution logging needs the account-wide API Gateway CloudWatch role, which this stack "
                    "does not own (cloud_watch_role=False); the stage writes JSON access logs instead.")

        validate = function(resources.VALIDATE_CAMPAIGN)
        estimate = function(resources.ESTIMATE_CAMPAIGN)
        request = function(resources.REQUEST_APPROVAL, APPROVAL_LINK_URL=self.api.url)
        expire = function(resources.EXPIRE_APPROVAL)
        activate = function(resources.ACTIVATE_CAMPAIGN)
        decisions_bucket = registry.buckets[resources.DECISIONS_BUCKET.logical]
        evaluate = function(resources.EVALUATE_CAMPAIGN)   # reads the decisions bucket: its `uses` says so
        policy = evaluate.role.node.find_child("DefaultPolicy")
        s3_reason = ("CDK's bucket grants: evaluate reads the decision records (every object under the decisions "
                     "bucket, listed by prefix) and writes report objects to the reports bucket; the object ARNs "
                     "are scoped to those two buckets, and the action families are the read/put sets S3 needs.")
        for finding in ("Action::s3:Abort*", "Action::s3:GetBucket*", "Action::s3:GetObject*", "Action::s3:List*"):
            acknowledge(policy, f"AwsSolutions-IAM5[{finding}]", s3_reason)
        for bucket in (decisions_bucket, registry.buckets[resources.REPORTS_BUCKET.logical]):
            logical_id = stack.get_logical_id(bucket.node.default_child)
            acknowledge(policy, f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/*]", s3_reason)
        self.functions = {spec.logical: f for spec, f in (
            (resources.VALIDATE_CAMPAIGN, validate), (resources.ESTIMATE_CAMPAIGN, estimate),
            (resources.REQUEST_APPROVAL, request), (resources.EXPIRE_APPROVAL, expire),
            (resources.ACTIVATE_CAMPAIGN, activate), (resources.EVALUATE_CAMPAIGN, evaluate),
            (resources.APPROVAL_LINK, link))}

        owners = registry.topics[resources.OWNERS_TOPIC.logical]
        self.evaluation = self._state_machine(
            resources.EVALUATION, names, evaluation_definition(self._arns(resources.EVALUATION), owners.topic_arn),
            key, log_retention, removal_policy)
        owners.grant_publish(self.evaluation)
        acknowledge(self.evaluation.role.node.find_child("DefaultPolicy"), "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
                    "Publishing to the KMS-encrypted owners topic needs the data-key actions, granted by CDK on "
                    "this stack's single customer-managed key ARN only.")
        self.approval = self._state_machine(
            resources.APPROVAL, names,
            approval_definition(self._arns(resources.APPROVAL), self.evaluation.state_machine_arn, timings),
            key, log_retention, removal_policy)
        self.evaluation.grant_start_execution(self.approval)

        action = actions.SnsAction(ops_topic)
        self.alarms: dict[str, cw.Alarm] = {}
        for machine, spec in ((self.approval, resources.APPROVAL), (self.evaluation, resources.EVALUATION)):
            alarm = cw.Alarm(
                self, f"{pascal(spec.logical)}Failed", alarm_name=f"{prefix}-{pascal(spec.logical)}Failed",
                alarm_description=f"An execution of the {spec.logical} state machine failed, timed out or was "
                                  "aborted: open it in the Step Functions console (its input and the failing state).",
                metric=cw.MathExpression(expression="failed + timedout + aborted", period=Duration.minutes(5),
                                         using_metrics={"failed": machine.metric_failed(),
                                                        "timedout": machine.metric_timed_out(),
                                                        "aborted": machine.metric_aborted()}),
                threshold=0, evaluation_periods=1, comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING)
            alarm.add_alarm_action(action)
            self.alarms[spec.logical] = alarm

    def _arns(self, machine: resources.StateMachine) -> dict[str, str]:
        return {logical: self.functions[logical].function.function_arn for logical in machine.functions}

    def _state_machine(self, spec: resources.StateMachine, names: Names, definition: dict, key: kms.IKey,
                       log_retention: logs.RetentionDays, removal_policy: RemovalPolicy) -> sfn.StateMachine:
        log_group = logs.LogGroup(self, f"{pascal(spec.logical)}Logs",
                                  log_group_name=f"/aws/vendedlogs/states/{names(spec.logical)}",
                                  retention=log_retention, encryption_key=key, removal_policy=removal_policy)
        machine = sfn.StateMachine(
            self, f"{pascal(spec.logical)}StateMachine", state_machine_name=names(spec.logical),
            definition_body=sfn.DefinitionBody.from_string(json.dumps(definition)),
            tracing_enabled=True,
            # every transition, never its data: a waiting task's input carries its task token, and a token
            # is the credential that approves (README "Personal data")
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        # exactly the task functions of this definition (no ':*' qualifier wildcard)
        machine.add_to_role_policy(iam.PolicyStatement(
            actions=["lambda:InvokeFunction"], resources=list(self._arns(spec).values())))
        acknowledge(machine.role.node.find_child("DefaultPolicy"), "AwsSolutions-IAM5[Resource::*]", XRAY_LOGS_REASON)
        return machine
