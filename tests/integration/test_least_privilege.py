"""Least privilege, proven by calls: every AWS call a function made anywhere in the integration suite is
allowed by that function's role in the synthesized template, evaluated by an IAM policy evaluator
(moto's, the one its access control uses) — moto itself enforces no IAM, so this is what shows the
stack works on AWS as it does here. And the reverse: an action a role grants is one some test made,
or it carries its reason below.

This module runs last (tests/integration/conftest.py orders it): it reads the calls every other
integration test recorded (tests/integration/aws_calls.py).
"""
from __future__ import annotations

from fnmatch import fnmatchcase

import pytest
from moto.iam.access_control import IAMPolicy, PermissionResult

from marketing import resources
from tests.infra.helpers import LocalArns
from tests.integration import aws_calls


# what a role grants that no integration test calls, with why it is granted anyway: an action any
# function may hold for this reason, or (function, action) for one function's
GRANTED_UNCALLED: dict[str | tuple[str, str], str] = {
    ("deliver", "sqs:SendMessage"): "an offer held past quiet hours for longer than SQS can delay (15 min) is re-queued",
    ("responses", "dynamodb:DeleteItem"): "a reply's response record is removed when publishing its event fails, "
                                          "so the retry records it again (app/sms_replies.py)",
    ("responses", "sqs:SendMessage"): "Lambda sends a failed asynchronous invocation to responses-dlq with the "
                                      "function's role (the on-failure destination)",
    ("approval-link", "states:SendTaskFailure"): "a rejection through the link fails the waiting task "
                                                 "(the suite rejects through the CLI)",
    "kinesis:DescribeStreamConsumer": "the Kinesis event-source mapping reads the stream",
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


def _functions() -> list[resources.Function]:
    return [*resources.FUNCTIONS, *resources.WORKFLOW_FUNCTIONS]


def _allowed(policy: IAMPolicy, action: str, resource: str | tuple[str, ...]) -> bool:
    names = resource if isinstance(resource, tuple) else (resource,)
    return any(policy.is_action_permitted(action, name) == PermissionResult.PERMITTED for name in names)


@pytest.fixture(scope="module")
def roles(synth_every_channel) -> dict[str, tuple[list[dict], IAMPolicy]]:
    """Each function's role in the stack deployed with every channel on (the suite sends push too)."""
    synth, local = synth_every_channel, LocalArns(synth_every_channel)
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
                if (any(fnmatchcase(a, pattern) for a in called) or pattern in GRANTED_UNCALLED
                        or (function, pattern) in GRANTED_UNCALLED):
                    continue
                uncalled.append(f"{function}: {pattern}")
    called = "\n".join(f"{function}: {sorted({a for a, _ in made})}" for function, made in sorted(aws_calls.calls.items()))
    assert uncalled == [], ("granted, never called, no reason written:\n" + "\n".join(sorted(set(uncalled)))
                            + "\n\nwhat each function called:\n" + called)


def test_with_push_on_deliver_reaches_endpoints_but_no_topic_of_the_stack(roles):
    _statements_, role = roles["deliver"]
    endpoint = "arn:aws:sns:us-east-1:123456789012:endpoint/GCM/marketing-app/0b6e"
    assert role.is_action_permitted("sns:Publish", endpoint) == PermissionResult.PERMITTED
    assert role.is_action_permitted("sns:Publish", "+8613800000001") == PermissionResult.PERMITTED
    for topic in resources.TOPICS:
        arn = f"arn:aws:sns:us-east-1:123456789012:{resources.physical_name('marketing', topic.logical)}"
        assert role.is_action_permitted("sns:Publish", arn) == PermissionResult.DENIED, topic.logical


def test_removing_any_grant_a_function_uses_makes_the_check_fail(synth_every_channel, roles):
    # the mutation check, for every function and every action it called: take that action out of its
    # role and some recorded call is refused (so the first test would fail)
    if len(aws_calls.calls) < len(roles):
        pytest.skip("only a part of the integration suite ran")
    local = LocalArns(synth_every_channel)
    for function, made in sorted(aws_calls.calls.items()):
        statements = roles[function][0]
        for action in sorted({a for a, _ in made}):
            without = [{**s, "Action": [a for a in _listed(s["Action"]) if not fnmatchcase(action, a)]}
                       for s in statements]
            weakened = local.policy([s for s in without if s["Action"]])
            assert any(not _allowed(weakened, a, r) for a, r in made if a == action), (function, action)


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]
