"""`marketing kpis [--since DAYS] [--json]`: the operator's four headline figures (marketing.domain.kpis)
from the stack's own records: the contact ledger, the response records and the audit trail."""
from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, Optional

import typer
from rich.table import Table

from marketing.adapters.aws import from_item
from marketing.domain.kpis import kpis
from marketing_tools.cli import target as targets
from marketing_tools.cli.target import console


def _items(dynamodb: Any, table: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    request: dict[str, Any] = {"TableName": table, **kwargs}
    while True:
        page = dynamodb.scan(**request)
        yield from map(from_item, page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def command(since: int = typer.Option(30, "--since", min=1, help="the last this many days"),
            as_json: bool = typer.Option(False, "--json", help="one JSON line"),
            stack: Optional[str] = typer.Option(None, "--stack", help="a deployed stack (default: the local one)")) -> None:
    """Success rate, touches per subscriber per month, campaign lead time, 7-day unsubscribe rate."""
    target = targets.resolve_target(stack)
    dynamodb = target.client("dynamodb")
    until = datetime.now(timezone.utc)
    start = until - timedelta(days=since)
    contacts = [(i["customer_id"], i["campaign_id"], _at(i["at"]))
                for i in _items(dynamodb, target.env["CONTACTS_TABLE"], FilterExpression="begins_with(sk, :c)",
                                ExpressionAttributeValues={":c": {"S": "contact#"}})]
    responses = list(_items(dynamodb, target.env["RESPONSES_TABLE"]))
    conversions = [(r["customer_id"], r["campaign_id"], _at(r["at"])) for r in responses
                   if r.get("kind") == "conversion" and r.get("group") == "treated"]
    opt_outs = [(r["customer_id"], _at(r["at"])) for r in responses if r.get("kind") == "unsubscribe"]
    firsts: dict[str, dict[str, datetime]] = {}
    for row in _items(dynamodb, target.env["AUDIT_TABLE"], FilterExpression="begins_with(sk, :t)",
                      ExpressionAttributeValues={":t": {"S": "at#"}}):
        if row.get("action") in ("submitted", "activated"):
            seen = firsts.setdefault(row["campaign_id"], {})
            at = _at(row["at"])
            seen[row["action"]] = min(at, seen.get(row["action"], at))
    launches = [(f["submitted"], f["activated"]) for f in firsts.values() if {"submitted", "activated"} <= set(f)]
    figures = kpis(contacts, conversions, opt_outs, launches, since=start, until=until)
    if as_json:
        sys.stdout.write(json.dumps(figures.to_json()) + "\n")
        return

    def rate(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1%}"

    table = Table(title=f"the last {since} day(s): {figures.contacts:,} contacts to {figures.customers_contacted:,} customers")
    table.add_column("figure", overflow="fold")
    table.add_column("value", justify="right")
    table.add_row("success rate (converted / contacted)", rate(figures.success_rate))
    table.add_row("touches per subscriber per month", "n/a" if figures.touches_per_subscriber_month is None
                  else f"{figures.touches_per_subscriber_month:.2f}")
    table.add_row(f"campaign lead time, submit → live (median of {figures.campaigns_launched})",
                  "n/a" if figures.lead_time_hours_median is None else f"{figures.lead_time_hours_median:,.1f} h")
    table.add_row("7-day unsubscribe rate", rate(figures.unsubscribe_rate_7d))
    console.print(table)
