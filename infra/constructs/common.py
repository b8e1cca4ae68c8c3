"""Helpers shared by the constructs: ids, acknowledgements, secure buckets and queues."""
from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct

from marketing import resources

METRICS_NAMESPACE = "EventMarketing"
MIN_REASON = 20


def pascal(logical: str) -> str:
    """`customer-events` -> `CustomerEvents` (construct ids)."""
    return "".join(part.capitalize() for part in logical.replace("_", "-").split("-"))


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on `scope` (and what it contains), with the reason written down."""
    if len(reason.strip()) < MIN_REASON:
        raise ValueError(f"acknowledgement of {rule} needs a specific reason, got {reason!r}")
    if "::" not in rule.split("[", 1)[0]:
        # cdk-nag's findings are keyed `<pack>::<rule>`; an unprefixed id would be recorded as an
        # `Annotation::` acknowledgement, which only works through cdk-nag's compatibility path.
        rule = f"{rule.split('-', 1)[0]}::{rule}"
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))


def secure_bucket(scope: Construct, id: str, *, key: kms.IKey, access_logs: s3.IBucket,
                  removal_policy: RemovalPolicy, noncurrent_days: int = 90) -> s3.Bucket:
    """A private, versioned, KMS-encrypted, TLS-only bucket that logs its access to `access_logs`."""
    return s3.Bucket(
        scope, id,
        encryption=s3.BucketEncryption.KMS,
        encryption_key=key,
        bucket_key_enabled=True,                  # one KMS call per object batch, not per object
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        enforce_ssl=True,
        minimum_tls_version=1.2,
        versioned=True,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix=f"{id}/",
        lifecycle_rules=[s3.LifecycleRule(
            id="expire-noncurrent",
            noncurrent_version_expiration=Duration.days(noncurrent_days),
            abort_incomplete_multipart_upload_after=Duration.days(7),
        )],
        removal_policy=removal_policy,
    )


def secure_queue(scope: Construct, spec: resources.Queue, *, name: str, key: kms.IKey,
                 dead_letter: sqs.IQueue | None, removal_policy: RemovalPolicy) -> sqs.Queue:
    """A KMS-encrypted, TLS-only queue configured from its resources.Queue description."""
    return sqs.Queue(
        scope, pascal(spec.logical),
        queue_name=name,
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        data_key_reuse=Duration.minutes(5),
        enforce_ssl=True,
        visibility_timeout=Duration.seconds(spec.visibility_timeout_s),
        retention_period=Duration.seconds(spec.retention_s),
        dead_letter_queue=(sqs.DeadLetterQueue(queue=dead_letter, max_receive_count=spec.max_receive_count)
                           if dead_letter is not None else None),
        removal_policy=removal_policy,
    )
