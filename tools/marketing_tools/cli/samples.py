"""`marketing samples load` (SPEC 4.6): the sample campaigns (events/campaigns/*.yaml) reach a stack the
way a marketer's do — submitted, estimated, approved by a named sample approver (a second one where
the budget needs it), activated — so each has its approval trail in `campaign status`."""
from __future__ import annotations

import glob
from typing import Optional

import typer
from rich.table import Table

from marketing.domain.campaigns import load_campaign_file
from marketing_tools.cli import target as targets
from marketing_tools.cli.target import catalog, console, err, tag_types
from marketing_tools.project import project_path

samples_app = typer.Typer(no_args_is_help=True, help="The sample campaigns, through the approval workflow.")
SUBMITTER = "samples.marketer"
APPROVERS = ("samples.approver", "samples.approver.2")   # two distinct people: over the budget threshold


@samples_app.command("load")
def samples_load(stack: Optional[str] = typer.Option(None, "--stack", help="a deployed stack (default: the local one)"),
                 timeout: float = typer.Option(120, help="seconds to wait for each workflow step")) -> None:
    """Submit every sample campaign and approve it as the sample approvers; print where each stands."""
    from marketing_tools.lifecycle_client import LifecycleClient

    target = targets.resolve_target(stack)
    desk = LifecycleClient(target.env, target.client, catalog())
    paths = sorted(glob.glob(str(project_path("events", "campaigns", "*.yaml"))))
    results: list[tuple[str, str, str]] = []
    with console.status("submitting the sample campaigns…") as status:
        for path in paths:
            loaded = load_campaign_file(path, catalog(), tag_types())
            if not loaded.ok:
                err.print(f"[red]✗ {path}: {len(loaded.errors)} error(s)[/]")
                raise typer.Exit(1)
            campaign = loaded.campaign
            status.update(f"{campaign.id}: submitted, waiting for its estimate…")
            desk.submit(campaign.definition(), SUBMITTER, "sample campaign (marketing samples load)")
            seen = desk.wait_for_status(campaign.id, "pending_approval", "invalid", timeout_s=timeout)
            approvers: list[str] = []
            if seen == "pending_approval":
                for approver in APPROVERS:
                    status.update(f"{campaign.id}: approving as {approver}…")
                    result = desk.approve(campaign.id, approver, "sample campaign")
                    if not result.accepted:
                        break
                    approvers.append(approver)
                    if len(result.approvers) >= result.required:
                        break
                seen = desk.wait_for_status(campaign.id, "live", "evaluated", "rejected", "expired", timeout_s=timeout)
            results.append((campaign.id, seen, ", ".join(approvers) or "-"))
    table = Table(title=f"{len(results)} sample campaign(s), submitted by {SUBMITTER}")
    for column in ("campaign", "status", "approved by"):
        table.add_column(column, overflow="fold")
    for row in results:
        table.add_row(*row)
    console.print(table)
    if any(status not in ("live", "evaluated") for _, status, _ in results):
        err.print("[red]✗ not every sample went live[/] (see `marketing campaign status ID`)")
        raise typer.Exit(1)
