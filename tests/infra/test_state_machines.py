"""The campaign lifecycle as deployed: each state machine's tasks resolve to the right functions,
logging and X-Ray are on, the topics use the key, the roles grant exactly what the steps do,
failed executions alarm to the ops topic."""
from __future__ import annotations

import json

import pytest

from tests.infra.helpers import mentions, refers_to
from marketing import resources
from marketing.state_machines import APPROVAL_TASKS, EVALUATION_TASKS


def _machine(synth, spec) -> str:
    return synth.by_property("AWS::StepFunctions::StateMachine", "StateMachineName", synth.name(spec.logical))


def _definition(synth, spec) -> dict:
    """The definition with every function ARN token replaced by the function's physical name."""
    body = synth.props(_machine(synth, spec))["DefinitionString"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    names = {lid: synth.props(lid)["FunctionName"] for lid in synth.resources("AWS::Lambda::Function")}
    text = ""
    for part in parts:
        if isinstance(part, str):
            text += part
        elif "Fn::GetAtt" in part and part["Fn::GetAtt"][0] in names:
            text += f"fn:{names[part['Fn::GetAtt'][0]]}"
        elif "Ref" in part:
            text += f"ref:{part['Ref']}"
        else:
            text += "token"
    return json.loads(text)


@pytest.mark.parametrize("spec,tasks", [(resources.APPROVAL, APPROVAL_TASKS), (resources.EVALUATION, EVALUATION_TASKS)],
                         ids=["approval", "evaluation"])
def test_each_task_state_invokes_its_function(synth, spec, tasks):
    states = _definition(synth, spec)["States"]
    for state, function in tasks.items():
        resource = states[state].get("Parameters", {}).get("FunctionName") or states[state]["Resource"]
        assert resource == f"fn:{synth.name(function)}", (state, resource)


def test_approval_waits_for_a_token_with_a_timeout_and_starts_the_evaluation(synth):
    states = _definition(synth, resources.APPROVAL)["States"]
    request = states["RequestApproval"]
    assert request["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert request["Parameters"]["Payload"]["token.$"] == "$$.Task.Token"
    assert request["TimeoutSeconds"] == 72 * 3600
    assert {c["Next"] for c in request["Catch"]} == {"Rejected", "Expire"}
    assert states["WaitForScheduleEnd"]["TimestampPath"] == "$.activation.evaluate_at"
    evaluation = _machine(synth, resources.EVALUATION)
    body = synth.props(_machine(synth, resources.APPROVAL))["DefinitionString"]
    assert mentions(body, evaluation)


@pytest.mark.parametrize("spec", resources.STATE_MACHINES, ids=lambda s: s.logical)
def test_state_machines_log_everything_and_trace(synth, spec):
    props = synth.props(_machine(synth, spec))
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["LoggingConfiguration"]["Level"] == "ALL"


@pytest.mark.parametrize("spec", resources.STATE_MACHINES, ids=lambda s: s.logical)
def test_state_machine_role_invokes_exactly_its_functions(synth, spec):
    machine = synth.props(_machine(synth, spec))
    role = machine["RoleArn"]["Fn::GetAtt"][0]
    functions = {synth.function(f) for f in spec.functions}
    invoked = set()
    for lid, policy in synth.resources("AWS::IAM::Policy").items():
        if not any(refers_to(r, role) for r in policy["Properties"]["Roles"]):
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Action"] == "lambda:InvokeFunction":
                resources_ = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                invoked |= {r["Fn::GetAtt"][0] for r in resources_}
    assert invoked == functions


@pytest.mark.parametrize("spec", resources.TOPICS, ids=lambda t: t.logical)
def test_topics_are_encrypted_with_the_key(synth, spec):
    props = synth.props(synth.by_property("AWS::SNS::Topic", "TopicName", synth.name(spec.logical)))
    assert refers_to(props["KmsMasterKeyId"], synth.key())


def test_the_approval_link_may_only_answer_the_approval_state_machines_tokens(synth):
    role = synth.props(synth.function("approval-link"))["Role"]["Fn::GetAtt"][0]
    statements = [s for lid, p in synth.resources("AWS::IAM::Policy").items()
                  if any(refers_to(r, role) for r in p["Properties"]["Roles"])
                  for s in p["Properties"]["PolicyDocument"]["Statement"]]
    (send,) = [s for s in statements if "states:SendTaskSuccess" in s["Action"]]
    assert sorted(send["Action"]) == ["states:SendTaskFailure", "states:SendTaskSuccess"]
    assert f":stateMachine:{synth.name('approval')}" in json.dumps(send["Resource"])
    assert not any("states:" in json.dumps(s["Action"]) and s["Resource"] == "*" for s in statements)


@pytest.mark.parametrize("spec", resources.STATE_MACHINES, ids=lambda s: s.logical)
def test_failed_executions_alarm_to_ops(synth, spec):
    machine = _machine(synth, spec)
    ops = synth.by_property("AWS::SNS::Topic", "TopicName", synth.name("ops"))
    alarms = [p for p in (synth.props(a) for a in synth.resources("AWS::CloudWatch::Alarm"))
              if mentions(p.get("Metrics", []), machine)]
    assert alarms and any(refers_to(a, ops) for alarm in alarms for a in alarm["AlarmActions"])


@pytest.mark.parametrize("spec", resources.STATE_MACHINES, ids=lambda s: s.logical)
def test_the_local_stack_runs_the_same_definition(synth, spec, monkeypatch):
    """marketing.local creates each state machine from the same ASL source: equal once ARNs are names."""
    import re

    import boto3
    from moto import mock_aws

    from tests.infra.helpers import STACK_NAME
    from marketing_tools.emulator.stack import create_stack

    for name, value in (("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_ACCESS_KEY_ID", "testing"),
                        ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        env = create_stack(None, prefix=STACK_NAME)
        local = boto3.client("stepfunctions", region_name="us-east-1").describe_state_machine(
            stateMachineArn=env[spec.env])["definition"]
    text = re.sub(r"arn:aws:lambda:[^:]+:\d+:function:([\w-]+)", r"fn:\1", local)
    text = re.sub(r"arn:aws:states:[^:]+:\d+:stateMachine:([\w-]+)", r"sm:\1", text)
    text = re.sub(r"arn:aws:sns:[^:]+:\d+:([\w-]+)", r"topic:\1", text)
    deployed = json.dumps(_definition(synth, spec))
    for lid, props in synth.resources("AWS::StepFunctions::StateMachine").items():
        deployed = deployed.replace(f"ref:{lid}", f"sm:{props['Properties']['StateMachineName']}")
    for lid, props in synth.resources("AWS::SNS::Topic").items():
        deployed = deployed.replace(f"ref:{lid}", f"topic:{props['Properties']['TopicName']}")
    local_definition = json.loads(text)
    local_definition["States"].get("RequestApproval", {}).pop("TimeoutSeconds", None)   # a local setting
    deployed_definition = json.loads(deployed)
    deployed_definition["States"].get("RequestApproval", {}).pop("TimeoutSeconds", None)
    assert local_definition == deployed_definition
