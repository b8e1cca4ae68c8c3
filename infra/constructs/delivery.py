"""Delivery: the delivery queue (with its DLQ and redrive) and the deliver function that sends the
offer by SMS/push (SNS) or email (SES)."""
from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import Context, Names
from infra.constructs.common import acknowledge, pascal, secure_queue
from infra.constructs.function import MarketingFunction
from infra.constructs.registry import Registry
from marketing import resources


def _queue_chain(logical: str) -> list[resources.Queue]:
    """The queue and its dead-letter queues, DLQ first."""
    by_name = {q.logical: q for q in resources.QUEUES}
    chain = []
    while logical:
        chain.insert(0, by_name[logical])
        logical = by_name[logical].dead_letter
    return chain


class Delivery(Construct):
    def __init__(self, scope: Construct, id: str, *, ctx: Context, names: Names, prefix: str, key: kms.IKey,
                 layer: lambda_.ILayerVersion, registry: Registry, log_retention: logs.RetentionDays,
                 removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, id)
        self.functions: dict[str, MarketingFunction] = {}
        self.mappings: dict[str, resources.QueueMapping] = {}

        for described in resources.FUNCTIONS:
            if not isinstance(described.source, resources.QueueMapping):
                continue
            for spec in _queue_chain(described.source.queue):
                if spec.logical not in registry.queues:
                    registry.queues[spec.logical] = secure_queue(
                        self, spec, name=names(spec.logical), key=key,
                        dead_letter=registry.queues[spec.dead_letter] if spec.dead_letter else None,
                        removal_policy=removal_policy)

            spec = ctx.function(described)
            mapping = ctx.queue_mapping(described)
            environment = {
                "EMAIL_SENDER": ctx.str("emailSender", "offers@example.com"),
                "SMS_TYPE": ctx.str("smsType", "Promotional"),
                "DELIVERY_CHANNELS": ctx.str("deliveryChannels", "sms,email"),
            }
            for context_key, variable in (("smsSenderId", "SMS_SENDER_ID"), ("smsOriginationNumber", "SMS_ORIGINATION_NUMBER"),
                                          ("smsSender", "SMS_SENDER"), ("unsubscribeBaseUrl", "UNSUBSCRIBE_BASE_URL"),
                                          ("unsubscribeMailto", "UNSUBSCRIBE_MAILTO")):
                value = ctx.str(context_key, None)
                if value:
                    environment[variable] = value
            # The key signing unsubscribe links: generated at deploy, read by deliver at cold start.
            unsubscribe_key = secretsmanager.Secret(
                self, f"{pascal(spec.logical)}UnsubscribeKey", secret_name=names(f"{spec.logical}-unsubscribe-key"),
                description="HMAC key of the unsubscribe links in marketing email (customer + campaign tokens)",
                encryption_key=key, removal_policy=removal_policy,
                generate_secret_string=secretsmanager.SecretStringGenerator(exclude_punctuation=True, password_length=48))
            acknowledge(unsubscribe_key, "AwsSolutions-SMG4",
                        "Rotating the unsubscribe key would break the unsubscribe links of every email already "
                        "sent (they must keep working); the key is only an HMAC key, never a credential.")
            environment["UNSUBSCRIBE_SECRET_ARN"] = unsubscribe_key.secret_arn
            fn = MarketingFunction(
                self, pascal(spec.logical), spec=spec, function_name=names(spec.logical), prefix=prefix,
                layer=layer, registry=registry, key=key, log_retention=log_retention,
                removal_policy=removal_policy,
                reserved_concurrency=ctx.int(f"{spec.logical}ReservedConcurrency", None, minimum=1),
                extra_environment=environment,
            )
            # the one call deliver makes on it (CDK's grant_read adds DescribeSecret, which it never calls)
            fn.role.add_to_principal_policy(iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"],
                                                                resources=[unsubscribe_key.secret_arn]))
            key.grant_decrypt(fn.role)
            queue = registry.queues[mapping.queue]
            fn.function.add_event_source(sources.SqsEventSource(
                queue,
                batch_size=mapping.batch_size,
                max_batching_window=(Duration.seconds(mapping.max_batching_window_s)
                                     if mapping.max_batching_window_s else None),
                max_concurrency=mapping.max_concurrency,
                report_batch_item_failures=True,
            ))

            # Sending: a separate policy per channel, so each wildcard is acknowledged where it is.
            # A publish straight to a phone number is authorised on the number itself, which no ARN pattern
            # matches: SMS needs Resource '*'. The Deny keeps that from reaching any topic (deliver could
            # otherwise forge an inbound SMS or an approval mail): with push off, nothing with an SNS ARN
            # at all; with push on, every topic of this stack (platform endpoints stay reachable; IAM
            # cannot tell an endpoint ARN from a topic ARN by pattern alone).
            push = "push" in environment["DELIVERY_CHANNELS"].split(",")
            stack_topics = Stack.of(self).format_arn(service="sns", resource=f"{prefix}-*")
            sms = iam.Policy(self, f"{pascal(spec.logical)}SmsPublish", statements=[
                iam.PolicyStatement(sid="PublishToPhoneNumbers" + ("AndEndpoints" if push else ""),
                                    actions=["sns:Publish"], resources=["*"]),
                iam.PolicyStatement(sid="NeverToATopic", effect=iam.Effect.DENY, actions=["sns:Publish"],
                                    resources=[stack_topics] if push else ["arn:aws:sns:*:*:*"]),
            ])
            sms.attach_to_role(fn.role)
            acknowledge(sms, "AwsSolutions-IAM5[Resource::*]",
                        "sns:Publish straight to a phone number (SMS without a topic) is authorised on the number, "
                        "which no ARN matches, so AWS requires Resource '*'; the same policy denies publishing to "
                        "any SNS ARN (with push on: to any topic of this stack).")

            ses_identity = ctx.str("sesIdentity", None)   # a verified domain or address; default: any
            email = iam.Policy(self, f"{pascal(spec.logical)}SendEmail", statements=[iam.PolicyStatement(
                sid="SendEmail", actions=["ses:SendRawEmail"],  # raw: the List-Unsubscribe headers
                resources=[f"arn:{Aws.PARTITION}:ses:{Aws.REGION}:{Aws.ACCOUNT_ID}:"
                           f"identity/{ses_identity or '*'}"])])
            email.attach_to_role(fn.role)
            if not ses_identity:
                acknowledge(email, "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ses:<AWS::Region>:"
                                   "<AWS::AccountId>:identity/*]",
                            "The verified SES sender identity is chosen at deploy time; without -c sesIdentity "
                            "the grant covers this account's SES identities in this region only.")

            self.functions[spec.logical] = fn
            self.mappings[spec.logical] = mapping
