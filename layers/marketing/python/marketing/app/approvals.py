"""The campaign workflow's human side: validate a submission, ask the approvers, take their decisions
(from the CLI or the approval link), expire a request nobody decided, activate an approved campaign.

Every transition is an audit record (who, when, action, comment); the rules are domain.approval's.
Never resumes a workflow the rules refuse: a refused approval leaves the task token waiting.
"""
from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping

from marketing.domain.approval import (
    Action,
    ApprovalRequest,
    ApprovalStatus,
    Refused,
    approvers_required,
    judge_approval,
    judge_rejection,
)
from marketing.domain.campaigns import Campaign, load_campaign
from marketing.domain.catalog import EventCatalog
from marketing.ports import AuditTrail, CampaignStore, Notifier, RequestConflict, TaskCallback, TokenExpired
from marketing.state_machines import CAMPAIGN_REJECTED

WORKFLOW = "workflow"   # the `by` of transitions the state machine makes itself


class CampaignInvalid(Exception):
    """The submitted definition is invalid; the message lists every error with its path.
    (Its class name is the error the state machine fails with.)"""


@dataclass(frozen=True)
class DecisionResult:
    accepted: bool
    status: str
    message: str
    approvers: tuple[str, ...] = ()
    required: int = 1


def _request(item: dict[str, Any]) -> ApprovalRequest:
    return ApprovalRequest(campaign_id=item["campaign_id"], submitter=item["submitter"],
                           required=int(item.get("required", 1)), approvers=tuple(item.get("approvers") or ()),
                           status=ApprovalStatus(item["status"]))


class CampaignWorkflow:
    def __init__(self, audit: AuditTrail, clock: Callable[[], datetime], *, catalog: EventCatalog | None = None,
                 campaigns: CampaignStore | None = None, approvers: Notifier | None = None,
                 callback: TaskCallback | None = None, budget_threshold: float = 100_000.0,
                 link_url: str | None = None, evaluation_delay_s: int | None = None,
                 tag_types: Mapping[str, str] | None = None):
        self._audit, self._clock, self._catalog, self._campaigns = audit, clock, catalog, campaigns
        self._tag_types = tag_types  # the tag dictionary a submitted campaign's tags.X must be in
        self._approvers, self._callback, self._threshold = approvers, callback, budget_threshold
        self._link_url, self._evaluation_delay_s = link_url, evaluation_delay_s

    def _record(self, campaign_id: str, action: Action, by: str, comment: str | None = None,
                **details: Any) -> None:
        self._audit.append(campaign_id, {"at": self._clock().isoformat(), "action": action.value, "by": by,
                                         "comment": comment, **{k: v for k, v in details.items() if v is not None}})

    def _load(self, definition: Any) -> Campaign:
        assert self._catalog is not None, "CampaignWorkflow needs the catalog to load campaigns"
        loaded = load_campaign(definition, self._catalog, self._tag_types)
        if not loaded.ok:
            raise CampaignInvalid("; ".join(str(e) for e in loaded.errors))
        return loaded.campaign

    # ---- state machine steps

    def validate(self, execution_input: dict[str, Any]) -> dict[str, Any]:
        """The definition as stored (normalized); every error fails the execution (CampaignInvalid)."""
        definition = execution_input.get("campaign")
        by = str(execution_input.get("submitted_by") or "").strip()
        campaign_id = definition.get("id") if isinstance(definition, dict) and isinstance(definition.get("id"), str) \
            else "(no id)"
        if not by:
            self._record(campaign_id, Action.INVALID, WORKFLOW, "submitted_by: the submitter must be named")
            raise CampaignInvalid("submitted_by: the submitter must be named")
        try:
            campaign = self._load(definition)
        except CampaignInvalid as exc:
            self._record(campaign_id, Action.SUBMITTED, by, execution_input.get("comment"))
            self._record(campaign_id, Action.INVALID, WORKFLOW, str(exc))
            raise
        self._record(campaign.id, Action.SUBMITTED, by, execution_input.get("comment"))
        return campaign.definition()

    def request_approval(self, payload: dict[str, Any]) -> None:
        """Store the task token with the estimate, then tell the approvers (with approve/reject links)."""
        campaign = self._load(payload["campaign"])
        submitter, estimate = payload["submitted_by"], payload.get("estimate") or {}
        required = approvers_required(campaign.limits.budget, self._threshold)
        request_id = secrets.token_urlsafe(16)
        self._audit.open_request({
            "campaign_id": campaign.id, "status": ApprovalStatus.PENDING.value, "submitter": submitter,
            "owner": campaign.owner or submitter, "required": required, "approvers": [],
            "token": payload["token"], "execution": payload.get("execution"), "request_id": request_id,
            "budget": campaign.limits.budget, "name": campaign.name,
            "estimate": json.dumps(estimate, ensure_ascii=False),
            "definition": json.dumps(campaign.definition(), ensure_ascii=False),
            "requested_at": self._clock().isoformat(),
        })
        self._record(campaign.id, Action.APPROVAL_REQUESTED, WORKFLOW,
                     f"{required} approver(s) needed" + (f" (budget {campaign.limits.budget:g} over "
                                                           f"{self._threshold:g})" if required > 1 else ""))
        if self._approvers is not None:
            subject, message = approval_notice(campaign, submitter, estimate, required, self._links(campaign.id, request_id))
            self._approvers.publish(subject, message, {"campaign_id": campaign.id})

    def _links(self, campaign_id: str, request_id: str) -> dict[str, str]:
        if not self._link_url:
            return {}
        base = f"{self._link_url.rstrip('/')}/approvals/{campaign_id}/{request_id}"
        return {"approve": f"{base}?action=approve", "reject": f"{base}?action=reject"}

    def expire(self, payload: dict[str, Any]) -> dict[str, Any]:
        campaign_id = payload["campaign"]["id"]
        if self._audit.set_status(campaign_id, ApprovalStatus.EXPIRED.value, (ApprovalStatus.PENDING.value,)):
            self._record(campaign_id, Action.EXPIRED, WORKFLOW, "no decision within the approval timeout: rejected")
        return {"status": ApprovalStatus.EXPIRED.value}

    def activate(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Live for the decision path (read through its short cache: no redeploy); when to evaluate."""
        assert self._campaigns is not None
        campaign = self._load(payload["campaign"])
        self._campaigns.put_campaign(campaign)
        now = self._clock()
        delay = payload.get("evaluate_after_seconds", self._evaluation_delay_s)
        evaluate_at = now + timedelta(seconds=int(delay)) if delay is not None else max(now, campaign.schedule.end)
        if evaluate_at.microsecond:   # the Wait state reads whole seconds: round up, never evaluate early
            evaluate_at += timedelta(microseconds=1_000_000 - evaluate_at.microsecond)
        self._audit.set_status(campaign.id, ApprovalStatus.LIVE.value, evaluate_at=evaluate_at.isoformat())
        self._record(campaign.id, Action.ACTIVATED, WORKFLOW, f"live; evaluation at {evaluate_at.isoformat()}")
        # Step Functions' Wait reads an RFC 3339 timestamp; UTC with "Z" is what every reader accepts
        return {"evaluate_at": evaluate_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "status": ApprovalStatus.LIVE.value}

    # ---- people

    def decide(self, campaign_id: str, by: str, *, approve: bool, comment: str | None = None,
               request_id: str | None = None) -> DecisionResult:
        """Approve or reject on behalf of `by` (CLI or link). A refusal changes nothing but the trail."""
        by = (by or "").strip()
        item = self._audit.get_request(campaign_id)
        if item is None or (request_id is not None and item.get("request_id") != request_id):
            return DecisionResult(False, "unknown", f"campaign {campaign_id} has no approval request"
                                  + (" with this link" if item is not None else ""))
        request = _request(item)
        verdict = judge_approval(request, by) if approve else judge_rejection(request, by, comment)
        if not verdict.accepted:
            if verdict.refused in (Refused.SELF_APPROVAL, Refused.ALREADY_APPROVED):
                self._record(campaign_id, Action.REFUSED, by, verdict.message)
            return DecisionResult(False, request.status.value, verdict.message, request.approvers, request.required)
        assert self._callback is not None
        if not approve:
            if not self._audit.set_status(campaign_id, ApprovalStatus.REJECTED.value, (ApprovalStatus.PENDING.value,),
                                          decided_by=by):
                return self._moved_on(campaign_id)
            self._record(campaign_id, Action.REJECTED, by, comment)
            try:
                self._callback.fail(item["token"], CAMPAIGN_REJECTED, json.dumps({"by": by, "comment": comment},
                                                                                  ensure_ascii=False))
            except TokenExpired:
                pass   # the workflow already ended (timed out): the campaign is rejected either way
            return DecisionResult(True, ApprovalStatus.REJECTED.value, f"rejected by {by}", request.approvers,
                                  request.required)
        try:
            after = _request(self._audit.add_approver(campaign_id, by))
        except RequestConflict:
            return self._moved_on(campaign_id)
        self._record(campaign_id, Action.APPROVED, by, comment, approval=f"{len(after.approvers)} of {after.required}")
        if len(after.approvers) < after.required:
            return DecisionResult(True, after.status.value,
                                  f"approved by {by}; {after.required - len(after.approvers)} more approver(s) needed",
                                  after.approvers, after.required)
        if not self._audit.set_status(campaign_id, ApprovalStatus.APPROVED.value, (ApprovalStatus.PENDING.value,)):
            return self._moved_on(campaign_id)
        try:
            self._callback.succeed(item["token"], {"approved_by": list(after.approvers), "comment": comment})
        except TokenExpired:
            self._audit.set_status(campaign_id, ApprovalStatus.EXPIRED.value)
            self._record(campaign_id, Action.EXPIRED, WORKFLOW, "the approval came after the timeout")
            return DecisionResult(False, ApprovalStatus.EXPIRED.value, "too late: the approval request timed out",
                                  after.approvers, after.required)
        return DecisionResult(True, ApprovalStatus.APPROVED.value, f"approved by {', '.join(after.approvers)}",
                              after.approvers, after.required)

    def _moved_on(self, campaign_id: str) -> DecisionResult:
        item = self._audit.get_request(campaign_id) or {}
        return DecisionResult(False, item.get("status", "unknown"), Refused.NOT_PENDING.value,
                              tuple(item.get("approvers") or ()), int(item.get("required", 1)))

    def linked_request(self, campaign_id: str, request_id: str) -> dict[str, Any] | None:
        """The request an approval link names, or None unless the link's id is this request's (the id is
        the link's only secret: a wrong one learns nothing, not even that the campaign exists)."""
        item = self._audit.get_request(campaign_id)
        if item is None or not hmac.compare_digest(str(item.get("request_id") or ""), request_id):
            return None
        return {k: v for k, v in item.items() if k not in ("token", "request_id")}

    def status(self, campaign_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        item = self._audit.get_request(campaign_id)
        if item is not None:
            item = {k: v for k, v in item.items() if k not in ("token", "request_id")}   # secrets stay in the table
        return item, self._audit.trail(campaign_id)


def approval_notice(campaign: Campaign, submitter: str, estimate: dict[str, Any], required: int,
                    links: dict[str, str]) -> tuple[str, str]:
    """The approvers' email: what is asked, the estimate's figures, and the links."""
    lines = [
        f"Campaign {campaign.id} ({campaign.name}) was submitted by {submitter} and needs "
        f"{required} approver(s) other than the submitter.",
        f"Schedule: {campaign.schedule.start.isoformat()} → {campaign.schedule.end.isoformat()}; "
        f"priority {campaign.priority}; budget {campaign.limits.budget if campaign.limits.budget is not None else 'none'}.",
        "",
        "Estimate (replay of recent events through the live campaigns and the contact policy):",
        f"  reach {estimate.get('reach', '?')} customers, {estimate.get('sends_per_day', '?')} sends/day, "
        f"contact cost {estimate.get('contact_cost', '?')}, offer cost up to {estimate.get('max_offer_cost', '?')}",
        f"  takes from lower-priority campaigns: {estimate.get('takes_from') or 'none'}",
        f"  loses to higher-priority campaigns: {estimate.get('loses_to') or 'none'}",
        "",
    ]
    if links:
        lines += [f"Approve: {links['approve']}", f"Reject:  {links['reject']}"]
    lines += [f"Or: marketing campaign approve {campaign.id} --by YOU   |   "
              f"marketing campaign reject {campaign.id} --by YOU --comment WHY"]
    return f"Approval needed: campaign {campaign.id}", "\n".join(lines)
