"""The composition root of the campaign lifecycle's functions: settings + boto3 clients → use cases.

Kept apart from app/wiring.py (the event path) so each side builds only what it uses at cold start.
"""
from __future__ import annotations

from typing import Any, Callable

from marketing.adapters import aws, aws_lifecycle as lifecycle, aws_responses
from marketing.adapters.memory import MemoryContactLedger
from marketing.app.approvals import CampaignWorkflow
from marketing.app.estimate import EstimateCampaign
from marketing.app.evaluate import EvaluateCampaign, WithResponses
from marketing.app.wiring import _log_invalid, client, utc_now
from marketing.settings import Settings

Step = Callable[[dict[str, Any]], Any]


def _campaigns(settings: Settings) -> aws.DynamoCampaignStore:
    return aws.DynamoCampaignStore(client("dynamodb"), settings.campaigns_table, settings.catalog, _log_invalid)


def _audit(settings: Settings) -> lifecycle.DynamoAuditTrail:
    return lifecycle.DynamoAuditTrail(client("dynamodb"), settings.audit_table)


def build_workflow(settings: Settings, *, campaigns: bool = False, notify: bool = False,
                   callback: bool = False) -> CampaignWorkflow:
    settings.require("audit_table")
    if campaigns:
        settings.require("campaigns_table")
    if notify:
        settings.require("approvals_topic_arn")
    return CampaignWorkflow(
        _audit(settings), utc_now, catalog=settings.catalog,
        campaigns=_campaigns(settings) if campaigns else None,
        approvers=lifecycle.SnsNotifier(client("sns"), settings.approvals_topic_arn) if notify else None,
        callback=lifecycle.StepFunctionsCallback(client("stepfunctions")) if callback else None,
        budget_threshold=settings.approval_budget_threshold,
        link_url=settings.approval_link_url,
        evaluation_delay_s=settings.evaluation_delay_seconds,
    )


def build_validate(settings: Settings) -> Step:
    return build_workflow(settings).validate


def build_estimate(settings: Settings) -> Step:
    settings.require("audit_table", "campaigns_table", "profiles_table", "customer_events_stream")
    return EstimateCampaign(
        history=lifecycle.KinesisEventHistory(client("kinesis"), settings.customer_events_stream),
        profiles=aws.DynamoProfileStore(client("dynamodb"), settings.profiles_table),
        campaigns=_campaigns(settings), audit=_audit(settings), catalog=settings.catalog,
        policy=settings.contact_policy, new_ledger=MemoryContactLedger, clock=utc_now,
        channels=settings.channels, max_events=settings.estimate_max_events,
        cost_per_contact=settings.cost_per_contact,
    )


def build_request_approval(settings: Settings) -> Step:
    return build_workflow(settings, notify=True).request_approval


def build_expire(settings: Settings) -> Step:
    return build_workflow(settings).expire


def build_activate(settings: Settings) -> Step:
    return build_workflow(settings, campaigns=True).activate


def build_evaluate(settings: Settings) -> Step:
    settings.require("audit_table", "campaigns_table", "decisions_bucket", "reports_bucket", "responses_table")
    s3 = client("s3")
    return EvaluateCampaign(
        records=WithResponses(lifecycle.S3CampaignRecords(s3, settings.decisions_bucket),
                              aws_responses.DynamoResponseStore(client("dynamodb"), settings.responses_table)),
        campaigns=_campaigns(settings), reports=lifecycle.S3ReportStore(s3, settings.reports_bucket),
        audit=_audit(settings), clock=utc_now, cost_per_contact=settings.cost_per_contact,
    )


def build_approval_decisions(settings: Settings) -> CampaignWorkflow:
    """Approve/reject (the approval link and the CLI): the audit table and Step Functions callbacks."""
    return build_workflow(settings, callback=True)
