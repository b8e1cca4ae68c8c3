"""`marketing customer view ID [--json]` (seed 003 客户接触视图): what a care agent needs of one customer —
profile, consents, lifecycle stage, every contact, every response (replies, offers accepted or declined,
conversions, complaints, opt-outs) and the offers open at each touchpoint. Read by the customer's key
in each table, never by scanning a log."""
from __future__ import annotations

import json
import sys
from typing import Any, Optional

import typer
from rich.table import Table

from marketing.adapters.aws import DynamoContactLedger, DynamoProfileStore
from marketing.adapters.aws_responses import DynamoOfferBoard, DynamoResponseStore
from marketing.domain.models import INBOUND
from marketing_tools.cli import target as targets
from marketing_tools.cli.target import console, err

customer_app = typer.Typer(no_args_is_help=True, help="One customer, as care sees them.")


def customer_records(target: Any, customer_id: str) -> list[dict[str, Any]] | None:
    """The view as records (`record`: profile, contact, response, offer), or None without a profile."""
    dynamodb = target.client("dynamodb")
    profile = DynamoProfileStore(dynamodb, target.env["PROFILES_TABLE"]).get_profiles([customer_id]).get(customer_id)
    if profile is None:
        return None
    records: list[dict[str, Any]] = [{"record": "profile", **profile.model_dump(mode="json")}]
    contacts = DynamoContactLedger(dynamodb, target.env["CONTACTS_TABLE"]).contacts(customer_id)
    records += [{"record": "contact", **c} for c in sorted(contacts, key=lambda c: str(c.get("at", "")))]
    responses = DynamoResponseStore(dynamodb, target.env["RESPONSES_TABLE"]).for_customer(customer_id)
    records += [{"record": "response", **r.model_dump(mode="json")} for r in sorted(responses, key=lambda r: r.at)]
    board = DynamoOfferBoard(dynamodb, target.env["OFFERS_TABLE"])
    for touchpoint in sorted(t.value for t in INBOUND):
        records += [{"record": "offer", "touchpoint": touchpoint, **o} for o in board.open_offers(customer_id, touchpoint)]
    return records


@customer_app.command("view")
def customer_view(customer_id: str = typer.Argument(...), as_json: bool = typer.Option(False, "--json", help="JSON lines"),
                  stack: Optional[str] = typer.Option(None, "--stack", help="a deployed stack (default: the local one)")
                  ) -> None:
    """The customer's contacts, responses, complaints, consents, open offers and lifecycle stage."""
    records = customer_records(targets.resolve_target(stack), customer_id)
    if records is None:
        err.print(f"[red]no profile for customer {customer_id!r}[/]")
        raise typer.Exit(1)
    if as_json:
        for record in records:
            sys.stdout.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        return
    profile = records[0]
    consents = ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in (profile.get("consents") or {}).items())
    console.print(f"[bold]{customer_id}[/] {profile.get('name') or ''} · {profile.get('status')} · stage "
                  f"{(profile.get('tags') or {}).get('lifecycle_stage', '?')} · plan {(profile.get('tags') or {}).get('plan', '?')}")
    console.print(f"consents: {consents}")
    for kind, columns in (("contact", ("at", "campaign_id", "channel", "event_id")),
                          ("response", ("at", "campaign_id", "kind", "channel", "detail")),
                          ("offer", ("touchpoint", "campaign_id", "status", "expires_at"))):
        rows = [r for r in records if r["record"] == kind]
        table = Table(title=f"{len(rows)} {kind}(s)")
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*[str(row.get(c) if row.get(c) is not None else "") for c in columns])
        console.print(table)
