"""`marketing tariff advise ID [--json]` (SPEC 4.8): which plan would have cost the customer less over
their last three full months, re-rated under every plan they may move to (events/plans.yaml)."""
from __future__ import annotations

import json
import sys
from datetime import date, datetime, timezone
from typing import Optional

import typer
from rich.table import Table

from marketing.adapters.aws import DynamoProfileStore
from marketing.data import PLANS, packaged
from marketing.app.tariff import TariffAdvisor, UnknownCustomer
from marketing.domain.tariff import PlanCatalog
from marketing_tools.cli import target as targets
from marketing_tools.cli.target import console, err

tariff_app = typer.Typer(no_args_is_help=True, help="The tariff advisor: a cheaper plan for the customer's usage.")


@tariff_app.command("advise")
def tariff_advise(customer_id: str = typer.Argument(...),
                  as_json: bool = typer.Option(False, "--json", help="one JSON line (SPEC 4.8)"),
                  on: Optional[str] = typer.Option(None, "--on", help="advise as of this date (YYYY-MM-DD; "
                                                   "default: today in the customer's timezone)"),
                  plans_file: Optional[str] = typer.Option(None, "--plans", help="another plans file"),
                  stack: Optional[str] = typer.Option(None, "--stack", help="a deployed stack (default: the local one)")
                  ) -> None:
    """Re-rate the customer's last three full months under every eligible plan; name the cheapest."""
    target = targets.resolve_target(stack)
    try:
        advisor = TariffAdvisor(DynamoProfileStore(target.client("dynamodb"), target.env["PROFILES_TABLE"]),
                                PlanCatalog.from_file(plans_file or packaged(PLANS)), lambda: datetime.now(timezone.utc))
        advice = advisor.advice(customer_id, date.fromisoformat(on) if on else None)
    except (ValueError, UnknownCustomer) as error:
        err.print(f"[red]{error}[/]")
        raise typer.Exit(1) from None
    if as_json:
        sys.stdout.write(json.dumps(advice.to_json(), ensure_ascii=False) + "\n")
        return
    if advice.best_plan:
        console.print(f"[bold]{customer_id}[/]: [green]{advice.best_plan}[/] would have cost "
                      f"{advice.monthly_saving:,.2f} a month less than {advice.current_plan} "
                      f"(months {', '.join(advice.months)})")
    else:
        console.print(f"[bold]{customer_id}[/]: no advice — {advice.reason}")
    table = Table(title="mean monthly cost under each plan the customer may take")
    table.add_column("plan", overflow="fold")
    table.add_column("mean cost", justify="right")
    for name, cost in advice.costs.items():
        mark = " (current)" if name == advice.current_plan else " (best)" if name == advice.best_plan else ""
        table.add_row(name + mark, f"{cost:,.2f}")
    if advice.costs:
        console.print(table)
