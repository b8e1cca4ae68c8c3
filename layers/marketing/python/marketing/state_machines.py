"""The campaign lifecycle as Amazon States Language: the approval and the evaluation state machines.

One source for both the CDK app (infra/constructs/lifecycle.py) and the local emulator
(marketing_tools.emulator.state_machines): given the task functions' ARNs and the timings, it returns the ASL
JSON. Knows no boto3 and no CDK; every wait is a parameter so tests never sleep for days.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# The error names the task functions raise and the approval use case sends (SendTaskFailure).
CAMPAIGN_INVALID = "CampaignInvalid"
CAMPAIGN_REJECTED = "CampaignRejected"
TIMEOUT = "States.Timeout"

# The task states, by the function (resources.WORKFLOW_FUNCTIONS logical name) each one invokes.
APPROVAL_TASKS = {
    "Validate": "validate-campaign",
    "Estimate": "estimate-campaign",
    "RequestApproval": "request-approval",
    "Expire": "expire-approval",
    "Activate": "activate-campaign",
}
EVALUATION_TASKS = {"Evaluate": "evaluate-campaign"}


@dataclass(frozen=True)
class Timings:
    """How long a human may take to decide, and how often the request must show signs of life."""

    approval_timeout_s: int = 3 * 24 * 3600
    approval_heartbeat_s: int | None = None    # None: no heartbeat (the approvers are people)

    def __post_init__(self) -> None:
        if self.approval_timeout_s < 1:
            raise ValueError("approval_timeout_s must be at least 1 second")
        if self.approval_heartbeat_s is not None and not 1 <= self.approval_heartbeat_s < self.approval_timeout_s:
            raise ValueError("approval_heartbeat_s must be at least 1 and shorter than approval_timeout_s")


def _retry() -> list[dict[str, Any]]:
    # transient Lambda faults only; a task's own error (CampaignInvalid, ...) is never retried
    return [{"ErrorEquals": ["Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
                             "Lambda.TooManyRequestsException"],
             "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 2.0}]


def approval_definition(functions: dict[str, str], evaluation_state_machine: str, timings: Timings = Timings()) -> dict:
    """validate → estimate → request approval (task token) → activate → wait → start evaluation.

    `functions` maps the function logical names of APPROVAL_TASKS to their ARNs. The execution input
    is {"campaign": {definition}, "submitted_by": "user", "comment": "...", "evaluate_after_seconds": n?};
    the wait lasts until the schedule's end unless `evaluate_after_seconds` (input) or the activate
    function's setting shortens it.
    """
    missing = sorted(set(APPROVAL_TASKS.values()) - set(functions))
    if missing:
        raise ValueError(f"approval state machine: no ARN for {missing}")
    request: dict[str, Any] = {
        "Type": "Task",
        "Comment": "Notify the approvers and wait for approve/reject (the token is in the approvals table).",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {
            "FunctionName": functions["request-approval"],
            "Payload": {
                "token.$": "$$.Task.Token",
                "execution.$": "$$.Execution.Id",
                "campaign.$": "$.campaign",
                "estimate.$": "$.estimate",
                "submitted_by.$": "$.submitted_by",
            },
        },
        "TimeoutSeconds": timings.approval_timeout_s,
        "ResultPath": "$.approval",
        "Retry": _retry(),
        "Catch": [
            {"ErrorEquals": [CAMPAIGN_REJECTED], "ResultPath": "$.rejection", "Next": "Rejected"},
            {"ErrorEquals": [TIMEOUT], "ResultPath": "$.rejection", "Next": "Expire"},
        ],
        "Next": "Activate",
    }
    if timings.approval_heartbeat_s is not None:
        request["HeartbeatSeconds"] = timings.approval_heartbeat_s

    def task(name: str, result_path: str, next_state: str, comment: str) -> dict[str, Any]:
        return {"Type": "Task", "Comment": comment, "Resource": functions[APPROVAL_TASKS[name]],
                "ResultPath": result_path, "Retry": _retry(), "Next": next_state}

    return {
        "Comment": "Campaign approval: validate, estimate, a human decision (not the submitter's; two approvers "
                   "over the budget threshold), activate, wait for the schedule's end, then evaluate.",
        "StartAt": "Validate",
        "States": {
            "Validate": task("Validate", "$.campaign", "Estimate",
                             "Every error of the definition fails the execution (CampaignInvalid)."),
            "Estimate": task("Estimate", "$.estimate", "RequestApproval",
                             "Backtest on recent events and the profiles: reach, sends/day, cost, collisions."),
            "RequestApproval": request,
            "Expire": task("Expire", "$.expired", "Rejected", "No decision in time: recorded as rejected."),
            "Rejected": {"Type": "Succeed", "Comment": "Rejected by an approver or expired; see the audit trail."},
            "Activate": task("Activate", "$.activation", "WaitForScheduleEnd",
                             "Live for the decision path (campaigns table), no redeploy."),
            "WaitForScheduleEnd": {"Type": "Wait", "TimestampPath": "$.activation.evaluate_at",
                                   "Next": "StartEvaluation"},
            "StartEvaluation": {
                "Type": "Task",
                "Resource": "arn:aws:states:::states:startExecution",
                "Parameters": {
                    "StateMachineArn": evaluation_state_machine,
                    "Name.$": "$$.Execution.Name",   # the evaluation of approval X is named X
                    "Input": {"campaign_id.$": "$.campaign.id"},
                },
                "ResultPath": "$.evaluation",
                "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 5, "MaxAttempts": 3, "BackoffRate": 2.0}],
                "Next": "Approved",
            },
            "Approved": {"Type": "Succeed", "Comment": "Activated, and its evaluation started."},
        },
    }


def evaluation_definition(functions: dict[str, str], owners_topic: str) -> dict:
    """aggregate the campaign's records → evaluate → JSON + HTML report to S3 → notify the owner (SNS)."""
    missing = sorted(set(EVALUATION_TASKS.values()) - set(functions))
    if missing:
        raise ValueError(f"evaluation state machine: no ARN for {missing}")
    return {
        "Comment": "Campaign evaluation: treated vs control, lift with its 95% interval, report to S3, owner told.",
        "StartAt": "Evaluate",
        "States": {
            "Evaluate": {"Type": "Task", "Resource": functions["evaluate-campaign"], "ResultPath": "$.report",
                         "Retry": _retry(), "Next": "NotifyOwner"},
            "NotifyOwner": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sns:publish",
                "Parameters": {
                    "TopicArn": owners_topic,
                    "Subject.$": "$.report.subject",
                    "Message.$": "$.report.message",
                    "MessageAttributes": {"owner": {"DataType": "String", "StringValue.$": "$.report.owner"}},
                },
                "ResultPath": None,
                "Next": "Done",
            },
            "Done": {"Type": "Succeed"},
        },
    }


def to_json(definition: dict) -> str:
    return json.dumps(definition, indent=2, ensure_ascii=False)
