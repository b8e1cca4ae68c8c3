"""The `marketing` command (SPEC 4.6): demo, local stack, campaigns, data, policy, offers, decisions.

Exit codes: 0 success, 1 invalid input (every error printed), 2 usage, 3 target stack unreachable.
Each group of commands lives in its own module and is only added here (nothing imports this one).
"""
from __future__ import annotations

import json
import sys
from typing import Optional

import typer
from rich.table import Table

from marketing.domain.decisions import current_records
from marketing_tools.cli import target as targets
from marketing_tools.cli.campaigns import campaign_app
from marketing_tools.cli.customer import customer_app
from marketing_tools.cli.data import events_app, profiles_app
from marketing_tools.cli.kpis import command as kpis
from marketing_tools.cli.local import local_app
from marketing_tools.cli.offers import offers_app, responses, sms_app
from marketing_tools.cli.policy import policy_app
from marketing_tools.cli.samples import samples_app
from marketing_tools.cli.tariff import tariff_app
from marketing_tools.cli.target import console, err

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Real-time event marketing: demo, local stack, campaigns, decisions.")
app.add_typer(campaign_app, name="campaign")
app.add_typer(local_app, name="local")
app.add_typer(profiles_app, name="profiles")
app.add_typer(events_app, name="events")
app.add_typer(policy_app, name="policy")
app.add_typer(offers_app, name="offers")
app.add_typer(sms_app, name="sms")
app.add_typer(tariff_app, name="tariff")
app.add_typer(samples_app, name="samples")
app.add_typer(customer_app, name="customer")
app.command()(responses)
app.command("kpis")(kpis)


@app.command()
def demo(
    profiles: int = typer.Option(10_000, help="synthetic profiles to load"),
    events: int = typer.Option(50_000, help="synthetic events to publish"),
    seed: int = typer.Option(42, help="seed of the synthetic data"),
) -> None:
    """Run the main job on the embedded emulator and print what happened."""
    from marketing_tools.demo.run import run_demo

    result = run_demo(profiles=profiles, events=events, seed=seed, console=console)
    gaps = result.dead_letter_gaps()
    missing = {r: -gap for r, gap in gaps.items() if gap < 0}
    lost = {r: gap for r, gap in gaps.items() if gap > 0}  # dead letters the demo meant to be valid
    story_missed = result.story is not None and not result.story.contains_truth
    if missing or lost or result.duplicate_contacts or story_missed:
        err.print(f"[red]the demo found a fault:[/] not dead-lettered {missing}, valid events dead-lettered {lost}, "
                  f"second contacts {result.duplicate_contacts}"
                  + (", the story's lift interval misses the true uplift" if story_missed else ""))
        raise typer.Exit(1)


@app.command()
def decisions(
    campaign: Optional[str] = typer.Option(None, "--campaign", help="only this campaign"),
    customer: Optional[str] = typer.Option(None, "--customer", help="only this customer"),
    event: Optional[str] = typer.Option(None, "--event", help="only this event"),
    as_json: bool = typer.Option(False, "--json", help="JSON lines instead of a table"),
    stack: Optional[str] = typer.Option(None, "--stack", help="a deployed stack (default: the local one)"),
    limit: int = typer.Option(200, help="at most this many rows in the table"),
) -> None:
    """The decision records (SPEC 4.5), newest verdict per decision."""
    from marketing.adapters.aws import S3DecisionLog

    target = targets.resolve_target(stack)
    rows = current_records(
        row for row in S3DecisionLog(target.client("s3"), target.env["DECISIONS_BUCKET"]).read()
        if not ((campaign and row["campaign_id"] != campaign) or (customer and row["customer_id"] != customer)
                or (event and row["event_id"] != event))
    )
    if as_json:
        for row in rows.values():
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    table = Table(title=f"{len(rows)} decision record(s)")
    for column in ("event_id", "customer_id", "campaign_id", "outcome", "reason", "channel", "detail", "latency_ms"):
        table.add_column(column, overflow="fold")   # ids wrap whole at any width, never cut
    for row in list(rows.values())[:limit]:
        table.add_row(*[str(row.get(c) if row.get(c) is not None else "") for c in
                        ("event_id", "customer_id", "campaign_id", "outcome", "reason", "channel", "detail", "latency_ms")])
    console.print(table)


def main() -> None:
    app()
