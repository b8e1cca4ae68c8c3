"""Evaluate (evaluation workflow): a campaign's rows → treated vs control → JSON + HTML report in S3.

The rows are whatever CampaignRecords yields (decision records, and contact/response/conversion/
unsubscribe rows as domain.evaluation reads them), so new record sources plug in without change here.
Returns what the state machine's next state tells the owner.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Callable, Iterable

from marketing.app.report import headline, render_html, render_json
from marketing.domain.approval import Action, ApprovalStatus
from marketing.domain.evaluation import evaluate_campaign
from marketing.domain.responses import evaluation_row
from marketing.ports import AuditTrail, CampaignRecords, CampaignStore, ReportStore, ResponseStore


class WithResponses:
    """A campaign's rows from the decision log, plus the responses, conversions and unsubscribes the
    response path attributed to it (the responses table)."""

    def __init__(self, records: CampaignRecords, responses: ResponseStore):
        self._records, self._responses = records, responses

    def read(self, campaign_id: str) -> Iterable[dict[str, Any]]:
        yield from self._records.read(campaign_id)
        for record in self._responses.for_campaign(campaign_id):
            row = evaluation_row(record)
            if row is not None:
                yield row


def report_keys(campaign_id: str) -> dict[str, str]:
    return {"json": f"reports/{campaign_id}/report.json", "html": f"reports/{campaign_id}/report.html"}


class EvaluateCampaign:
    def __init__(self, records: CampaignRecords, campaigns: CampaignStore, reports: ReportStore, audit: AuditTrail,
                 clock: Callable[[], datetime], *, cost_per_contact: float = 0.05):
        self._records, self._campaigns, self._reports, self._audit = records, campaigns, reports, audit
        self._clock, self._cost = clock, cost_per_contact

    def __call__(self, payload: dict[str, Any]) -> dict[str, Any]:
        campaign_id = payload["campaign_id"]
        campaign = self._campaigns.get_campaign(campaign_id)
        request = self._audit.get_request(campaign_id) or {}
        rows = list(self._records.read(campaign_id))
        start, end = (campaign.schedule.start, campaign.schedule.end) if campaign else (None, None)
        days = max(1, min((end - start).days, 366)) if start and end else 1
        if rows:   # the days actually covered, when the campaign ran shorter than scheduled (or is evaluated early)
            stamps = sorted(str(r.get("decided_at") or r.get("at") or "") for r in rows if r.get("decided_at") or r.get("at"))
            if stamps:
                first, last = datetime.fromisoformat(stamps[0]), datetime.fromisoformat(stamps[-1])
                days = max(1, min(days, (last.date() - first.date()).days + 1))
        evaluation = evaluate_campaign(
            campaign_id, rows, cost_per_contact=self._cost, offer_value=campaign.offer.value if campaign else 0.0,
            days=days, name=campaign.name if campaign else None,
            tz=campaign.schedule.start.tzinfo if campaign else None,
        )
        keys = report_keys(campaign_id)
        where = {"json": self._reports.put(keys["json"], render_json(evaluation), "application/json"),
                 "html": self._reports.put(keys["html"], render_html(evaluation), "text/html; charset=utf-8")}
        summary = headline(evaluation)
        owner = (campaign.owner if campaign and campaign.owner else None) or request.get("owner") or "unknown"
        if request:
            self._audit.set_status(campaign_id, ApprovalStatus.EVALUATED.value, report=where["html"])
        self._audit.append(campaign_id, {"at": self._clock().isoformat(), "action": Action.EVALUATED.value,
                                         "by": "workflow", "comment": summary, "report": where["html"]})
        return {
            "campaign_id": campaign_id, "owner": owner, "headline": summary, "report": where,
            "lift": json.loads(json.dumps(evaluation.lift.to_json())),
            "subject": f"Campaign {campaign_id} evaluated"[:100],
            "message": f"{summary}\n\nReport: {where['html']}\nJSON: {where['json']}\n"
                       f"Or: marketing campaign report {campaign_id}",
        }
