"""The composition root of the campaign lifecycle's functions: settings + boto3 clients → use cases.

Kept apart from app/wiring.py (the event path) so each side builds only what it uses at cold start:
never import the event path's wiring or use cases from here (tests/unit/test_handler_imports.py).
"""
from __future__ import annotations

from typing import Any, Callable

from marketing.adapters import aws, aws_lifecycle as lifecycle, aws_responses
from marketing.adapters.memory import MemoryContactLedger
from marketing.app.approvals import CampaignWorkflow
from marketing.app.evaluate import EvaluateCampaign, WithResponses
from marketing import resources
from marketing.app.clients import client, log_invalid, utc_now
from marketing.settings import settings_model

Step = Callable[[dict[str, Any]], Any]

# Each builder takes its function's settings: the resources it uses (resources.py), and the tunables.
ValidateSettings = settings_model(resources.VALIDATE_CAMPAIGN)
EstimateSettings = settings_model(resources.ESTIMATE_CAMPAIGN)
RequestApprovalSettings = settings_model(resources.REQUEST_APPROVAL)
ExpireSettings = settings_model(resources.EXPIRE_APPROVAL)
ActivateSettings = settings_model(resources.ACTIVATE_CAMPAIGN)
EvaluateSettings = settings_model(resources.EVALUATE_CAMPAIGN)
ApprovalLinkSettings = settings_model(resources.APPROVAL_LINK)
WorkflowSettings = ValidateSettings | RequestApprovalSettings | ExpireSettings | ActivateSettings | ApprovalLinkSettings


def _campaigns(settings: EstimateSettings | ActivateSettings | EvaluateSettings) -> aws.DynamoCampaignStore:
    return aws.DynamoCampaignStore(client("dynamodb"), settings.campaigns_table, settings.catalog, log_invalid)


def _audit(settings: WorkflowSettings | EstimateSettings | EvaluateSettings) -> lifecycle.DynamoAuditTrail:
    return lifecycle.DynamoAuditTrail(client("dynamodb"), settings.audit_table)


def build_workflow(settings: WorkflowSettings, *, campaigns: bool = False, notify: bool = False,
                   callback: bool = False) -> CampaignWorkflow:
    return CampaignWorkflow(
        _audit(settings), utc_now, catalog=settings.catalog,
        campaigns=_campaigns(settings) if campaigns else None,
        approvers=lifecycle.SnsNotifier(client("sns"), settings.approvals_topic_arn) if notify else None,
        callback=lifecycle.StepFunctionsCallback(client("stepfunctions")) if callback else None,
        budget_threshold=settings.approval_budget_threshold,
        link_url=settings.approval_link_url,
        evaluation_delay_s=settings.evaluation_delay_seconds,
        tag_types=settings.tag_types,
    )


def build_validate(settings: ValidateSettings) -> Step:
    return build_workflow(settings).validate


def build_estimate(settings: EstimateSettings) -> Step:
    # imported here: the estimate replays decide's contact requests (marketing.app.decide), which the
    # other lifecycle functions must not load at cold start
    from marketing.app.estimate import EstimateCampaign

    return EstimateCampaign(
        history=lifecycle.KinesisEventHistory(client("kinesis"), settings.customer_events_stream),
        profiles=aws.DynamoProfileStore(client("dynamodb"), settings.profiles_table),
        campaigns=_campaigns(settings), audit=_audit(settings), catalog=settings.catalog,
        policy=settings.contact_policy, new_ledger=MemoryContactLedger, clock=utc_now,
        channels=settings.channels, max_events=settings.estimate_max_events,
        cost_per_contact=settings.cost_per_contact,
    )


def build_request_approval(settings: RequestApprovalSettings) -> Step:
    return build_workflow(settings, notify=True).request_approval


def build_expire(settings: ExpireSettings) -> Step:
    return build_workflow(settings).expire


def build_activate(settings: ActivateSettings) -> Step:
    return build_workflow(settings, campaigns=True).activate


def build_evaluate(settings: EvaluateSettings) -> Step:
    s3 = client("s3")
    return EvaluateCampaign(
        records=WithResponses(lifecycle.S3CampaignRecords(s3, settings.decisions_bucket),
                              aws_responses.DynamoResponseStore(client("dynamodb"), settings.responses_table)),
        campaigns=_campaigns(settings), reports=lifecycle.S3ReportStore(s3, settings.reports_bucket),
        audit=_audit(settings), clock=utc_now, cost_per_contact=settings.cost_per_contact,
    )


def build_approval_decisions(settings: ApprovalLinkSettings) -> CampaignWorkflow:
    """Approve/reject (the approval link and the CLI): the audit table and Step Functions callbacks."""
    return build_workflow(settings, callback=True)
