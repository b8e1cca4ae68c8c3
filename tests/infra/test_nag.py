"""cdk-nag (AwsSolutions) runs on every synth, fails it on a finding, and every acknowledgement is reasoned."""
from __future__ import annotations

import re

import pytest

ACK = "aws:cdk:acknowledged-rules"
# The kinds of finding this stack acknowledges (reasons in the code); a new kind is a review decision.
ALLOWED = {
    "AwsSolutions::AwsSolutions-IAM5",   # X-Ray / SNS SMS '*', CDK grant action families, Firehose S3 prefix
    "AwsSolutions::AwsSolutions-L1",     # Python 3.12 pinned with the layer's cp312 wheels
    "AwsSolutions::AwsSolutions-KDS3",   # customer-managed key on Kinesis is a requirement
    "AwsSolutions::AwsSolutions-SQS3",   # terminal dead-letter queues have no DLQ of their own
    "AwsSolutions::AwsSolutions-S1",     # the access-log bucket does not log into itself
    "CloudFormation-Validate::W7001",    # unused mapping emitted by the Firehose L2
    "AwsSolutions::AwsSolutions-SMG4",   # the unsubscribe-link HMAC key is not rotated: sent links must keep working
    "AwsSolutions::AwsSolutions-APIG2",  # approval link: the proxy function validates its own requests
    "AwsSolutions::AwsSolutions-APIG3",  # approval link: WAF is the operator's account-level choice
    "AwsSolutions::AwsSolutions-APIG4",  # approval link: opened from email in a browser (random request id)
    "AwsSolutions::AwsSolutions-APIG6",  # approval link: execution logs need the account-wide CloudWatch role
    "AwsSolutions::AwsSolutions-COG4",   # approval link: no Cognito token in an emailed link
}


def _acknowledgements(synth) -> list[tuple[str, str, str]]:
    return [(path, rule, reason) for path, entries in synth.metadata.items() for e in entries
            if e["type"] == ACK for rule, reason in e["data"].items()]


def test_cdk_nag_ran_and_reported_nothing(synth):
    reports = {p["pluginName"]: p for p in synth.report["pluginReports"]}
    assert "AwsSolutions" in reports, "the AwsSolutions pack must be registered (Validations.add_plugins)"
    assert reports["AwsSolutions"]["conclusion"] == "success"
    assert reports["AwsSolutions"]["violations"] == [], "every finding is fixed or acknowledged"
    errors = [v for p in reports.values() for v in p["violations"] if v["severity"] == "error"]
    assert errors == []


def test_every_acknowledgement_is_specific_and_reasoned(synth):
    acks = _acknowledgements(synth)
    assert acks
    for path, rule, reason in acks:
        assert len(reason.strip()) >= 20, (path, rule, reason)
        family = re.sub(r"\[.*\]$", "", rule)
        assert family in ALLOWED, f"new kind of acknowledgement {rule} at {path}"
        if rule.startswith("AwsSolutions::"):
            assert path != f"/{synth.stack_name}", f"{rule}: acknowledge on the resource, not the whole stack"
        if family == "AwsSolutions::AwsSolutions-IAM5":
            assert "[" in rule, "IAM5 is acknowledged per finding (Action::x / Resource::y), never in bulk"


def test_a_finding_fails_synth(tmp_path):
    """The same checks on a non-compliant stack: synth must raise, not warn."""
    from aws_cdk import App, Stack
    from aws_cdk import aws_sqs as sqs

    from infra.app import add_checks

    app = App(outdir=str(tmp_path))
    stack = Stack(app, "NonCompliant")
    sqs.Queue(stack, "Plain", encryption=sqs.QueueEncryption.UNENCRYPTED)
    add_checks(app)
    with pytest.raises(Exception, match="ValidationFailed"):
        app.synth()
