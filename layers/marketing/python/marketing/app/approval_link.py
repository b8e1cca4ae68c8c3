"""The approval link (API Gateway → Lambda): the page an approver opens from the email, and its form.

GET /approvals/{campaign_id}/{request_id} shows the request and its estimate with a form (name,
comment, approve/reject); POST takes the decision through the same use case as the CLI. The request
id in the link is random and per request; the rules (not the submitter, distinct approvers) apply.
"""
from __future__ import annotations

import json
from html import escape

from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types

from marketing.app.approvals import CampaignWorkflow

_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto}}pre{{background:#f4f4f4;padding:1rem}}
</style></head><body><h1>{title}</h1>{body}</body></html>"""


def _html(status: int, title: str, body: str) -> Response:
    return Response(status_code=status, content_type=content_types.TEXT_HTML,
                    body=_PAGE.format(title=escape(title), body=body))


def _form(raw: str) -> dict[str, str] | None:
    """A form post or a JSON object whose values are strings; anything else is None (a 400)."""
    if raw.lstrip().startswith(("{", "[")) or not raw.strip():
        try:
            data = json.loads(raw or "{}")
        except ValueError:
            return None
    else:
        data = {k: v[0] for k, v in parse_qs(raw).items()}
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        return None
    return data


def build_api(workflow: CampaignWorkflow) -> APIGatewayRestResolver:
    api = APIGatewayRestResolver()

    @api.get("/approvals/<campaign_id>/<request_id>")
    def show(campaign_id: str, request_id: str) -> Response:
        item = workflow.linked_request(campaign_id, request_id)
        action = api.current_event.get_query_string_value("action", "approve")
        if item is None:   # a wrong or expired link shows nothing
            return _html(404, "Unknown approval request", "<p>No such campaign approval request.</p>")
        estimate = json.dumps(json.loads(item.get("estimate") or "{}"), indent=2, ensure_ascii=False)
        approvers = ", ".join(item.get("approvers") or []) or "none yet"
        body = (f"<p>Campaign <b>{escape(campaign_id)}</b> ({escape(str(item.get('name', '')))}) submitted by "
                f"<b>{escape(item['submitter'])}</b>: status <b>{escape(item['status'])}</b>; approvals "
                f"{len(item.get('approvers') or [])} of {item.get('required', 1)} ({escape(approvers)}).</p>"
                f"<h2>Estimate</h2><pre>{escape(estimate)}</pre>"
                f"<form method='post'><p><label>Your name <input name='by' required></label></p>"
                f"<p><label>Comment <input name='comment' size='50'></label></p>"
                f"<p><button name='action' value='approve'{' autofocus' if action == 'approve' else ''}>Approve</button> "
                f"<button name='action' value='reject'{' autofocus' if action == 'reject' else ''}>Reject</button></p>"
                f"</form>")
        return _html(200, f"Approve campaign {campaign_id}?", body)

    @api.post("/approvals/<campaign_id>/<request_id>")
    def decide(campaign_id: str, request_id: str) -> Response:
        form = _form(api.current_event.decoded_body or "")
        if form is None:
            return _html(400, "Unreadable form", "<p>The request must be a form or a JSON object of strings "
                                                 "(action, by, comment).</p>")
        action = form.get("action")
        if action not in ("approve", "reject"):
            return _html(400, "Approve or reject?", "<p>The form must say approve or reject.</p>")
        result = workflow.decide(campaign_id, form.get("by", ""), approve=action == "approve",
                                 comment=form.get("comment") or None, request_id=request_id)
        status = 200 if result.accepted else 404 if result.status == "unknown" else 409
        return _html(status, "Done" if result.accepted else "Not accepted",
                     f"<p>{escape(result.message)}</p><p>Status: <b>{escape(result.status)}</b></p>")

    return api
