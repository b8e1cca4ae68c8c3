"""The marketer's and approver's desk: submit, approve, reject, status and report against a stack
(local or deployed), given its resource map and a boto3 client factory. Used by the CLI, the demo
story and the tests; the rules stay in the use cases (marketing.app.approvals).
"""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from marketing import resources as r
from marketing.adapters.aws_lifecycle import DynamoAuditTrail, S3ReportStore, StepFunctionsCallback, utc_now
from marketing.adapters.aws import DynamoCampaignStates
from marketing.app.approvals import CampaignWorkflow, DecisionResult
from marketing.app.campaign_control import CampaignControl, ControlResult
from marketing.domain.approval import Action
from marketing.app.evaluate import report_keys
from marketing.domain.catalog import EventCatalog


@dataclass(frozen=True)
class Submission:
    campaign_id: str
    execution_arn: str


def execution_input(definition: dict[str, Any], by: str, comment: str | None = None,
                    evaluate_after_seconds: int | None = None) -> dict[str, Any]:
    """What the approval state machine takes (also what to paste in the Step Functions console)."""
    data: dict[str, Any] = {"campaign": definition, "submitted_by": by}
    if comment:
        data["comment"] = comment
    if evaluate_after_seconds is not None:
        data["evaluate_after_seconds"] = evaluate_after_seconds
    return data


class LifecycleClient:
    def __init__(self, env: dict[str, str], client: Callable[[str], Any], catalog: EventCatalog | None = None):
        self.env, self._client = env, client
        self._sfn = client("stepfunctions")
        self.workflow = CampaignWorkflow(DynamoAuditTrail(client("dynamodb"), env[r.AUDIT.env]), utc_now,
                                         catalog=catalog, callback=StepFunctionsCallback(self._sfn))

    def submit(self, definition: dict[str, Any], by: str, comment: str | None = None,
               evaluate_after_seconds: int | None = None) -> Submission:
        campaign_id = str(definition.get("id", "campaign"))
        name = f"{campaign_id}-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"[:80]
        arn = self._sfn.start_execution(
            stateMachineArn=self.env[r.APPROVAL.env], name=name,
            input=json.dumps(execution_input(definition, by, comment, evaluate_after_seconds), ensure_ascii=False),
        )["executionArn"]
        return Submission(campaign_id, arn)

    def evaluate(self, campaign_id: str) -> str:
        """Start the evaluation state machine now (the approval workflow starts it at the schedule's end)."""
        name = f"{campaign_id}-eval-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"[:80]
        return self._sfn.start_execution(stateMachineArn=self.env[r.EVALUATION.env], name=name,
                                         input=json.dumps({"campaign_id": campaign_id}))["executionArn"]

    def control(self, campaign_id: str, action: Action, by: str, comment: str | None = None) -> ControlResult:
        """Pause, resume or stop a live campaign (audited); stopping starts its evaluation now."""
        control = CampaignControl(DynamoCampaignStates(self._client("dynamodb"), self.env[r.CAMPAIGNS.env]),
                                  self.workflow._audit, utc_now)
        result = control.change(campaign_id, action, by, comment)
        if result.accepted and action is Action.STOPPED:
            self.evaluate(campaign_id)
        return result

    def approve(self, campaign_id: str, by: str, comment: str | None = None) -> DecisionResult:
        return self.workflow.decide(campaign_id, by, approve=True, comment=comment)

    def reject(self, campaign_id: str, by: str, comment: str) -> DecisionResult:
        return self.workflow.decide(campaign_id, by, approve=False, comment=comment)

    def status(self, campaign_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        return self.workflow.status(campaign_id)

    def execution(self, arn: str) -> dict[str, Any]:
        return self._sfn.describe_execution(executionArn=arn)

    def wait(self, arn: str, timeout_s: float = 60, statuses: tuple[str, ...] = ("SUCCEEDED", "FAILED", "TIMED_OUT",
                                                                                 "ABORTED")) -> dict[str, Any]:
        """Poll an execution until it ends (or the timeout passes); returns describe_execution."""
        deadline = time.monotonic() + timeout_s
        while True:
            described = self.execution(arn)
            if described["status"] in statuses or time.monotonic() > deadline:
                return described
            time.sleep(0.1)

    def wait_for_status(self, campaign_id: str, *wanted: str, timeout_s: float = 60) -> str:
        """Poll the campaign's request status until it is one of `wanted`; returns the last seen."""
        deadline, seen = time.monotonic() + timeout_s, "unknown"
        while time.monotonic() < deadline:
            item, _ = self.status(campaign_id)
            seen = (item or {}).get("status", "unknown")
            if seen in wanted:
                return seen
            time.sleep(0.1)
        return seen

    def executions_of(self, state_machine_env: str) -> list[dict[str, Any]]:
        return self._sfn.list_executions(stateMachineArn=self.env[state_machine_env])["executions"]

    def report(self, campaign_id: str) -> tuple[dict[str, Any] | None, str | None]:
        """(report JSON, report HTML) from the reports bucket, None where absent."""
        store = S3ReportStore(self._client("s3"), self.env[r.REPORTS_BUCKET.env])
        keys = report_keys(campaign_id)
        raw = store.get(keys["json"])
        return (json.loads(raw) if raw else None), store.get(keys["html"])
