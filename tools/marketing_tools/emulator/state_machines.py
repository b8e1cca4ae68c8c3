"""The campaign lifecycle on the local emulator: topics, task functions and both state machines,
from the same descriptions (marketing.resources) and ASL (marketing.state_machines) as the CDK app.

moto runs the state machines (stepfunctions.execute_state_machine) and, without Docker, its Lambda
only echoes: `run_real_handlers` makes it call the real functions/<name>/handler.py in-process.
Local only: nothing on the code path that runs on AWS imports this module.
"""
from __future__ import annotations

import io
import json
import logging
import os
import threading
import traceback
import zipfile
from typing import Any, Callable

from marketing import resources as r
from marketing.state_machines import Timings, approval_definition, evaluation_definition

ROLE = "marketing-local-workflows"
_handlers: dict[str, Callable[[dict, Any], Any]] = {}
_specs: dict[str, tuple[r.Function, dict[str, str]]] = {}
_lock = threading.Lock()


def enable_execution() -> None:
    """moto executes state machines only when configured so, before they are created (in-process)."""
    from moto.core.config import default_user_config

    default_user_config["stepfunctions"] = {**default_user_config.get("stepfunctions", {}), "execute_state_machine": True}


def timings_from_env() -> Timings:
    heartbeat = os.environ.get("APPROVAL_HEARTBEAT_SECONDS")
    return Timings(approval_timeout_s=int(os.environ.get("APPROVAL_TIMEOUT_SECONDS", str(Timings().approval_timeout_s))),
                   approval_heartbeat_s=int(heartbeat) if heartbeat else None)


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")  # replaced in-process
    return buffer.getvalue()


def create(make: Callable[[str], Any], prefix: str, env: dict[str, str], timings: Timings | None = None) -> dict[str, str]:
    """Create the topics, the task functions and the state machines; returns their env entries."""
    sns, iam, lambda_, sfn = (make(s) for s in ("sns", "iam", "lambda", "stepfunctions"))
    # On AWS the approval links point at the API Gateway stage; locally nothing serves HTTP for them:
    # approve with the CLI (the same use case), or call functions/approval_link with an API Gateway event.
    out: dict[str, str] = {"APPROVAL_LINK_URL": "local://approval-link"}
    for topic in r.WORKFLOW_TOPICS:   # the local stack made them; found again by name, for callers without it
        out[topic.env] = env.get(topic.env) or sns.create_topic(Name=r.physical_name(prefix, topic.logical))["TopicArn"]
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]}}]}
    role = iam.create_role(RoleName=f"{prefix}-{ROLE}", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    arns: dict[str, str] = {}
    code = _zip()
    for function in r.WORKFLOW_FUNCTIONS:
        arns[function.logical] = lambda_.create_function(
            FunctionName=r.physical_name(prefix, function.logical), Runtime="python3.12", Role=role,
            Handler="handler.handler", Code={"ZipFile": code}, Timeout=function.timeout_s,
            MemorySize=function.memory_mb)["FunctionArn"]
    out.update(create_state_machines(sfn, prefix, arns, out[r.OWNERS_TOPIC.env], role, timings or timings_from_env()))
    return out


def create_state_machines(sfn: Any, prefix: str, functions: dict[str, str], owners_topic: str, role: str,
                          timings: Timings) -> dict[str, str]:
    evaluation = sfn.create_state_machine(
        name=r.physical_name(prefix, r.EVALUATION.logical), roleArn=role,
        definition=json.dumps(evaluation_definition(functions, owners_topic)))["stateMachineArn"]
    approval = sfn.create_state_machine(
        name=r.physical_name(prefix, r.APPROVAL.logical), roleArn=role,
        definition=json.dumps(approval_definition(functions, evaluation, timings)))["stateMachineArn"]
    return {r.EVALUATION.env: evaluation, r.APPROVAL.env: approval}


def set_timings(sfn: Any, prefix: str, env: dict[str, str], timings: Timings) -> None:
    """Re-time the approval state machine (e.g. a test's one-second approval timeout)."""
    functions = {f.logical: f"arn:aws:lambda:us-east-1:123456789012:function:{r.physical_name(prefix, f.logical)}"
                 for f in r.WORKFLOW_FUNCTIONS}
    sfn.update_state_machine(stateMachineArn=env[r.APPROVAL.env],
                             definition=json.dumps(approval_definition(functions, env[r.EVALUATION.env], timings)))


def run_real_handlers(env: dict[str, str], prefix: str = "marketing") -> None:
    """Make moto's Lambda run functions/<dir>/handler.py of the invoked function, in this process.

    Each handler cold-starts on its first invocation with the stack's environment. Other functions
    keep moto's own behaviour."""
    from moto.awslambda.models import LambdaFunction

    from marketing_tools.emulator.handlers import LocalContext

    for function in r.WORKFLOW_FUNCTIONS:
        _specs[r.physical_name(prefix, function.logical)] = (function, dict(env))
    if getattr(LambdaFunction._invoke_lambda, "_marketing_local", False):
        return
    original = LambdaFunction._invoke_lambda

    def invoke(self: Any, event: Any = None) -> tuple[str, bool, str]:
        spec = _specs.get(self.function_name)
        if spec is None:
            return original(self, event)
        payload = json.loads(event) if isinstance(event, (str, bytes)) else (event or {})
        try:
            result = _handler(self.function_name, *spec)(payload, LocalContext(self.function_name))
            return json.dumps(result, default=str), False, ""
        except Exception as exc:  # noqa: BLE001 - the task's error, as Lambda reports it to Step Functions
            logging.getLogger("marketing.local").info("%s raised %s: %s", self.function_name, type(exc).__name__, exc)
            return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc),
                               "stackTrace": traceback.format_tb(exc.__traceback__)}), True, ""

    invoke._marketing_local = True  # type: ignore[attr-defined]
    LambdaFunction._invoke_lambda = invoke
    _fix_start_execution_parameters()


def _fix_start_execution_parameters() -> None:
    """moto 5.2 passes the ASL's `StateMachineArn`/`Input`/`Name` to boto3 as written, which boto3's
    serializer refuses (it wants stateMachineArn/input/name); AWS maps them. Map them here, locally."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
        StateTaskServiceSfn,
    )

    original = StateTaskServiceSfn._normalise_parameters
    if getattr(original, "_marketing_local", False):
        return

    def normalise(self: Any, parameters: dict, boto_service_name: Any = None, service_action_name: Any = None) -> None:
        original(self, parameters, boto_service_name, service_action_name)
        for name in [k for k in parameters if k in ("StateMachineArn", "Input", "Name")]:
            parameters[name[0].lower() + name[1:]] = parameters.pop(name)

    def evaluate(self: Any, env: Any, *args: Any, **kwargs: Any) -> None:
        evaluate_task(self, env, *args, **kwargs)
        response = env.stack[-1]
        if isinstance(response, dict):   # as AWS answers: ExecutionArn, StartDate (a string in the state)
            env.stack[-1] = {k[0].upper() + k[1:]: (v.isoformat() if hasattr(v, "isoformat") else v)
                             for k, v in response.items()}

    evaluate_task = StateTaskServiceSfn._eval_service_task
    normalise._marketing_local = True  # type: ignore[attr-defined]
    StateTaskServiceSfn._normalise_parameters = normalise
    StateTaskServiceSfn._eval_service_task = evaluate


def _handler(name: str, function: r.Function, env: dict[str, str]) -> Callable[[dict, Any], Any]:
    from marketing_tools.emulator.handlers import load_handler

    with _lock:
        if name not in _handlers:
            _handlers[name] = load_handler(function, env)
        return _handlers[name]


def forget_handlers() -> None:
    """Drop the cold-started handlers (a new stack, e.g. the next test, starts them cold again)."""
    with _lock:
        _handlers.clear()
        _specs.clear()
