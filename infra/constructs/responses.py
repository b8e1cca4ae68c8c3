"""Responses: the inbound-SMS topic (two-way SMS from AWS End User Messaging, KMS-encrypted) with the
responses function subscribed (failed invocations → responses-dlq), and the inbound offer API
(an API Gateway HTTP API, IAM-authorised, access-logged, throttled) in front of the offer-api function.
The offers and responses tables are State's (resources.TABLES)."""
from __future__ import annotations

import json

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.config import Context, Names
from infra.constructs.common import acknowledge, pascal, secure_queue
from infra.constructs.function import MarketingFunction
from infra.constructs.registry import Registry
from marketing import resources

END_USER_MESSAGING = "sms-voice.amazonaws.com"   # AWS End User Messaging SMS publishes two-way SMS


class Responses(Construct):
    def __init__(self, scope: Construct, id: str, *, ctx: Context, names: Names, prefix: str, key: kms.IKey,
                 layer: lambda_.ILayerVersion, registry: Registry, log_retention: logs.RetentionDays,
                 removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, id)
        self.functions: dict[str, MarketingFunction] = {}
        self.topics: dict[str, sns.Topic] = {}
        self.api: apigw.HttpApi | None = None

        for spec in resources.INBOUND_TOPICS:
            topic = sns.Topic(self, pascal(spec.logical), topic_name=names(spec.logical), master_key=key,
                              enforce_ssl=True)
            topic.add_to_resource_policy(iam.PolicyStatement(
                sid="EndUserMessagingPublishesInboundSms",
                principals=[iam.ServicePrincipal(END_USER_MESSAGING)], actions=["sns:Publish"],
                resources=[topic.topic_arn], conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}))
            self.topics[spec.logical] = registry.topics[spec.logical] = topic
        if self.topics:  # the service encrypts what it publishes with the stack's key
            key.add_to_resource_policy(iam.PolicyStatement(
                sid="AllowEndUserMessagingToEncryptedTopic", principals=[iam.ServicePrincipal(END_USER_MESSAGING)],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"], resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}))

        for described in resources.FUNCTIONS:
            source = described.source
            if not isinstance(source, resources.TopicSubscription | resources.HttpApi):
                continue
            spec = ctx.function(described)
            if isinstance(source, resources.TopicSubscription):
                dead_letter = self._queue(source.dead_letter, names, key, registry, removal_policy)
            fn = MarketingFunction(
                self, pascal(spec.logical), spec=spec, function_name=names(spec.logical), prefix=prefix,
                layer=layer, registry=registry, key=key, log_retention=log_retention,
                removal_policy=removal_policy,
                reserved_concurrency=ctx.int(f"{_camel(spec.logical)}ReservedConcurrency", None, minimum=1),
            )
            self.functions[spec.logical] = fn
            if isinstance(source, resources.TopicSubscription):
                fn.function.configure_async_invoke(
                    on_failure=destinations.SqsDestination(dead_letter),
                    retry_attempts=source.retry_attempts,
                    max_event_age=Duration.seconds(source.max_event_age_s))
                self.topics[source.topic].add_subscription(subscriptions.LambdaSubscription(fn.function))
            else:
                self.api = self._http_api(spec, source, fn, names, key, log_retention, removal_policy)

    def _queue(self, logical: str, names: Names, key: kms.IKey, registry: Registry, removal_policy: RemovalPolicy):
        if logical not in registry.queues:
            spec = next(q for q in resources.QUEUES if q.logical == logical)
            queue = secure_queue(self, spec, name=names(logical), key=key, dead_letter=None,
                                 removal_policy=removal_policy)
            acknowledge(queue, "AwsSolutions-SQS3",
                        f"{logical} is the terminal destination of inbound SMS the responses function failed on "
                        "after its retries; its depth alarms in Observability instead of redriving.")
            registry.queues[logical] = queue
        return registry.queues[logical]

    def _http_api(self, spec: resources.Function, source: resources.HttpApi, fn: MarketingFunction, names: Names,
                  key: kms.IKey, log_retention: logs.RetentionDays, removal_policy: RemovalPolicy) -> apigw.HttpApi:
        api = apigw.HttpApi(
            self, "HttpApi", api_name=names(spec.logical),
            description="Inbound offer API: the current offer at a touchpoint (store, care, app, web) and its answer",
            default_authorizer=authorizers.HttpIamAuthorizer(),   # store/care/web systems sign with SigV4
        )
        integration = integrations.HttpLambdaIntegration(
            "InboundOffers", fn.function, payload_format_version=apigw.PayloadFormatVersion.VERSION_2_0)
        for route in source.routes:
            method, path = route.split(" ", 1)
            api.add_routes(path=path, methods=[apigw.HttpMethod[method]], integration=integration)

        access_logs = logs.LogGroup(self, "HttpApiAccessLogs", log_group_name=f"/aws/apigateway/{names(spec.logical)}",
                                    retention=log_retention, encryption_key=key, removal_policy=removal_policy)
        stage = api.default_stage.node.default_child
        stage.access_log_settings = apigw.CfnStage.AccessLogSettingsProperty(
            destination_arn=access_logs.log_group_arn,
            format=json.dumps({"requestId": "$context.requestId", "ip": "$context.identity.sourceIp",
                               "caller": "$context.identity.caller", "routeKey": "$context.routeKey",
                               "status": "$context.status", "latency": "$context.responseLatency",
                               "integrationError": "$context.integrationErrorMessage"}))
        stage.default_route_settings = apigw.CfnStage.RouteSettingsProperty(
            throttling_rate_limit=source.throttle_rate, throttling_burst_limit=source.throttle_burst)
        return api


def _camel(logical: str) -> str:
    head, *rest = logical.split("-")
    return head + "".join(p.capitalize() for p in rest)
