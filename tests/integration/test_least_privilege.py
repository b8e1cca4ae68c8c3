"""Least privilege, proven by calls: every AWS call a function made anywhere in the integration suite is
allowed by that function's role in the synthesized template, evaluated by an IAM policy evaluator
(moto's, the one its access control uses) — moto itself enforces no IAM, so this is what shows the
stack works on AWS as it does here. And the reverse: an action a role grants is one some test made,
or it carries its reason below.

This module runs last (tests/integration/conftest.py orders it): it reads the calls every other
integration test recorded (tests/integration/aws_calls.py).
"""
from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import Any

import pytest
from moto.iam.access_control import IAMPolicy, PermissionResult

from marketing import resources
from tests.integration import aws_calls

REGION, ACCOUNT, LOCAL_PREFIX = "us-east-1", "123456789012", "marketing"

# what a role grants that no integration test calls, with why it is granted anyway
GRANTED_UNCALLED = {
    "logs:CreateLogStream": "the Lambda runtime writes the function's logs (not the handler's code)",
    "logs:PutLogEvents": "the Lambda runtime writes the function's logs (not the handler's code)",
    "xray:PutTraceSegments": "X-Ray tracing of every function (off locally)",
    "xray:PutTelemetryRecords": "X-Ray tracing of every function (off locally)",
    "kinesis:DescribeStream": "the Kinesis event-source mapping reads the stream (the service, not the handler)",
    "kinesis:DescribeStreamSummary": "the Kinesis event-source mapping reads the stream",
    "kinesis:GetRecords": "the Kinesis event-source mapping reads the stream",
    "kinesis:GetShardIterator": "the Kinesis event-source mapping reads the stream",
    "kinesis:ListShards": "the Kinesis event-source mapping reads the stream",
    "kinesis:SubscribeToShard": "the Kinesis event-source mapping reads the stream",
    "kinesis:ListStreams": "the Kinesis event-source mapping reads the stream",
    "sqs:ReceiveMessage": "the SQS event-source mapping receives (the service, not the handler)",
    "sqs:DeleteMessage": "the SQS event-source mapping deletes what the handler processed",
    "sqs:GetQueueAttributes": "the SQS event-source mapping reads the queue",
    "sqs:ChangeMessageVisibility": "the SQS event-source mapping returns failed messages",
    "sqs:GetQueueUrl": "CDK's queue grants include it; the handlers get the URL from their environment",
    "kms:Decrypt": "every store is on the stack's CMK: AWS decrypts on the caller's behalf (moto has no KMS step)",
    "kms:Encrypt": "every store is on the stack's CMK: AWS encrypts on the caller's behalf",
    "kms:ReEncrypt*": "every store is on the stack's CMK",
    "kms:GenerateDataKey*": "every store is on the stack's CMK: SQS/SNS/Kinesis/Firehose data keys",
    "kms:DescribeKey": "every store is on the stack's CMK",
}


def _statements(synth, function_logical: str) -> list[dict]:
    fn = synth.props(synth.function(function_logical))
    role_id = fn["Role"]["Fn::GetAtt"][0]
    statements = [s for p in synth.props(role_id).get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
    for policy in synth.resources("AWS::IAM::Policy").values():
        if any(r == {"Ref": role_id} for r in policy["Properties"]["Roles"]):
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


_NAME_PROPERTY = {"AWS::DynamoDB::Table": "TableName", "AWS::SQS::Queue": "QueueName", "AWS::Kinesis::Stream": "Name",
                  "AWS::KinesisFirehose::DeliveryStream": "DeliveryStreamName", "AWS::SNS::Topic": "TopicName",
                  "AWS::S3::Bucket": "BucketName", "AWS::StepFunctions::StateMachine": "StateMachineName",
                  "AWS::Lambda::Function": "FunctionName", "AWS::SecretsManager::Secret": "Name"}


class Local:
    """The template's references read as the local stack's ARNs (same names, `marketing-` for the stack's)."""

    def __init__(self, synth) -> None:
        self.synth = synth

    def name(self, logical_id: str) -> str:
        resource = self.synth.raw["Resources"][logical_id]
        name = resource.get("Properties", {}).get(_NAME_PROPERTY.get(resource["Type"], ""))
        if isinstance(name, str):
            return name.replace(f"{self.synth.stack_name}-", f"{LOCAL_PREFIX}-", 1)
        if resource["Type"] == "AWS::S3::Bucket":   # named by CloudFormation: the local bucket of its construct
            for bucket in resources.BUCKETS:
                if "".join(p.capitalize() for p in bucket.logical.split("-")) in logical_id:
                    return resources.physical_name(LOCAL_PREFIX, bucket.logical)
        return f"unresolved-{logical_id}"

    def arn(self, logical_id: str, attribute: str = "Arn") -> str:
        resource = self.synth.raw["Resources"][logical_id]
        kind, name = resource["Type"], self.name(logical_id)
        base = f"{REGION}:{ACCOUNT}"
        arns = {"AWS::DynamoDB::Table": f"arn:aws:dynamodb:{base}:table/{name}",
                "AWS::SQS::Queue": f"arn:aws:sqs:{base}:{name}",
                "AWS::Kinesis::Stream": f"arn:aws:kinesis:{base}:stream/{name}",
                "AWS::KinesisFirehose::DeliveryStream": f"arn:aws:firehose:{base}:deliverystream/{name}",
                "AWS::SNS::Topic": f"arn:aws:sns:{base}:{name}",
                "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
                "AWS::StepFunctions::StateMachine": f"arn:aws:states:{base}:stateMachine:{name}",
                "AWS::Lambda::Function": f"arn:aws:lambda:{base}:function:{name}",
                "AWS::SecretsManager::Secret": f"arn:aws:secretsmanager:{base}:secret:{name}-*"}
        arn = arns.get(kind, f"arn:aws:unresolved:{base}:{logical_id}")
        return f"{arn}/stream/*" if attribute == "StreamArn" else arn

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "Ref" in value:
            ref = value["Ref"]
            pseudo = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws",
                      "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": LOCAL_PREFIX}
            if ref in pseudo:
                return pseudo[ref]
            kind = self.synth.raw["Resources"][ref]["Type"]
            by_arn = ("AWS::SNS::Topic", "AWS::StepFunctions::StateMachine", "AWS::SecretsManager::Secret")
            return self.arn(ref) if kind in by_arn else self.name(ref)
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            return self.arn(logical_id, attribute)
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(str(self.resolve(p)) for p in parts)
        if any(key.startswith("Fn::") for key in value):
            raise AssertionError(f"cannot read {value} as a local ARN")
        return {key: self.resolve(v) for key, v in value.items()}

    def policy(self, statements: list[dict]) -> IAMPolicy:
        return IAMPolicy(json.dumps({"Version": "2012-10-17", "Statement": self.resolve(
            [{k: v for k, v in s.items() if k != "Condition"} for s in statements])}))


def _functions() -> list[resources.Function]:
    lifecycle = [f for f in vars(resources).values() if isinstance(f, resources.Function)]
    return sorted({f.logical: f for f in list(resources.FUNCTIONS) + lifecycle}.values(), key=lambda f: f.logical)


def _allowed(policy: IAMPolicy, action: str, resource: str | tuple[str, ...]) -> bool:
    names = resource if isinstance(resource, tuple) else (resource,)
    return any(policy.is_action_permitted(action, name) == PermissionResult.PERMITTED for name in names)


@pytest.fixture(scope="module")
def roles(synth) -> dict[str, tuple[list[dict], IAMPolicy]]:
    local = Local(synth)
    return {f.logical: (_statements(synth, f.logical), local.policy(_statements(synth, f.logical)))
            for f in _functions()}


def test_every_call_a_function_made_is_allowed_by_its_role(roles):
    assert aws_calls.calls, "no handler call was recorded: the recorder is not on"
    denied = [f"{function}: {action} on {resource}"
              for function, made in sorted(aws_calls.calls.items())
              for action, resource in sorted(made, key=str)
              if not _allowed(roles[function][1], action, resource)]
    assert denied == [], "calls the deployed role would refuse:\n" + "\n".join(denied)


def test_every_function_of_the_stack_was_exercised(roles):
    if len(aws_calls.calls) < 3:
        pytest.skip("only a part of the integration suite ran: the reverse check needs all of it")
    assert set(aws_calls.calls) == set(roles), "functions whose handler no integration test ran"


def test_every_granted_action_was_called_or_has_a_reason(roles):
    if len(aws_calls.calls) < len(roles):
        pytest.skip("only a part of the integration suite ran: the reverse check needs all of it")
    uncalled = []
    for function, (statements, _policy) in sorted(roles.items()):
        called = {action for action, _ in aws_calls.calls.get(function, ())}
        for statement in statements:
            for pattern in statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]:
                if any(fnmatchcase(a, pattern) for a in called) or pattern in GRANTED_UNCALLED:
                    continue
                uncalled.append(f"{function}: {pattern}")
    called = "\n".join(f"{function}: {sorted({a for a, _ in made})}" for function, made in sorted(aws_calls.calls.items()))
    assert uncalled == [], ("granted, never called, no reason written:\n" + "\n".join(sorted(set(uncalled)))
                            + "\n\nwhat each function called:\n" + called)
