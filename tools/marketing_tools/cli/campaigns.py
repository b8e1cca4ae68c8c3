"""`marketing campaign submit|approve|reject|status|report` (SPEC 4.6): the approval workflow from the CLI.

Same exit codes as the rest of the CLI: 0 success, 1 invalid input or a decision the rules refuse,
2 usage, 3 the target stack unreachable. The rules live in marketing.app.approvals, not here.
"""
from __future__ import annotations

import json
import sys
import webbrowser
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from marketing_tools.cli import target as targets
from marketing_tools.cli.target import catalog, console, err, tag_types
from marketing.domain.campaigns import load_campaign_file

campaign_app = typer.Typer(no_args_is_help=True, help="Campaign definitions and their workflow.")
STACK = typer.Option(None, "--stack", help="a deployed stack (default: the local one)")


def _desk(stack: Optional[str]):
    from marketing_tools.lifecycle_client import LifecycleClient

    target = targets.resolve_target(stack)
    return LifecycleClient(target.env, target.client, catalog())


@campaign_app.command("submit")
def campaign_submit(file: Path = typer.Argument(..., help="campaign definition, YAML or JSON"),
                    by: str = typer.Option(..., "--by", help="who submits (may not approve it)"),
                    comment: Optional[str] = typer.Option(None, "--comment"),
                    evaluate_after: Optional[int] = typer.Option(None, "--evaluate-after", min=0,
                                                                 help="evaluate this many seconds after activation "
                                                                      "instead of at the schedule's end"),
                    stack: Optional[str] = STACK) -> None:
    """Validate locally, then start the approval workflow (estimate, approvers notified)."""
    loaded = load_campaign_file(file, catalog(), tag_types())
    _refuse_invalid(loaded, f"{file}: {len(loaded.errors)} error(s)", f"{file}: ")
    desk = _desk(stack)
    live = _campaign_rows(targets.resolve_target(stack)).get(loaded.campaign.id, {})
    if live.get("state") == "active":
        err.print(f"[yellow]! campaign {loaded.campaign.id!r} is live now[/]: approving this submission replaces "
                  "its definition (counters and contact history carry over)")
    submission = desk.submit(loaded.campaign.definition(), by, comment, evaluate_after)
    console.print(f"[green]✓[/] submitted {submission.campaign_id!r} for approval by someone other than {by}")
    console.print(f"  execution {submission.execution_arn}")


def _refuse_invalid(loaded, title: str, prefix: str = "") -> None:
    """Exit 1 naming every error of a campaign that does not load."""
    if loaded.ok:
        return
    err.print(f"[red]✗ {title}[/]")
    for error in loaded.errors:
        err.print(f"  {prefix}{error}", highlight=False, markup=False)
    raise typer.Exit(1)


def _decided(result) -> None:
    if result.accepted:
        console.print(f"[green]✓[/] {result.message} (status {result.status}; approvals "
                      f"{len(result.approvers)} of {result.required})")
        return
    err.print(f"[red]✗ refused:[/] {result.message} (status {result.status})")
    raise typer.Exit(1)


@campaign_app.command("approve")
def campaign_approve(campaign_id: str = typer.Argument(...), by: str = typer.Option(..., "--by"),
                     comment: Optional[str] = typer.Option(None, "--comment"), stack: Optional[str] = STACK) -> None:
    """Approve a pending campaign (not your own; over the budget threshold a second approver is needed)."""
    _decided(_desk(stack).approve(campaign_id, by, comment))


@campaign_app.command("reject")
def campaign_reject(campaign_id: str = typer.Argument(...), by: str = typer.Option(..., "--by"),
                    comment: str = typer.Option(..., "--comment", help="why (required)"),
                    stack: Optional[str] = STACK) -> None:
    """Reject a pending campaign, with a reason."""
    _decided(_desk(stack).reject(campaign_id, by, comment))


def _control(action_name: str):
    def command(campaign_id: str = typer.Argument(...), by: str = typer.Option(..., "--by", help="who acts"),
                comment: Optional[str] = typer.Option(None, "--comment", help="why"),
                stack: Optional[str] = STACK) -> None:
        from marketing.domain.approval import Action

        result = _desk(stack).control(campaign_id, Action(action_name), by, comment)
        if not result.accepted:
            err.print(f"[red]✗ refused:[/] {result.message}")
            raise typer.Exit(1)
        console.print(f"[green]✓[/] {result.message}; decide sees it within CAMPAIGN_CACHE_SECONDS"
                      + ("; its evaluation has started" if action_name == "stopped" else ""))
    return command


campaign_app.command("pause", help="Stop matching a live campaign until it is resumed (audited).")(_control("paused"))
campaign_app.command("resume", help="Match a paused campaign again (audited).")(_control("resumed"))
campaign_app.command("stop", help="End a campaign now and evaluate it (audited).")(_control("stopped"))


@campaign_app.command("status")
def campaign_status(campaign_id: str = typer.Argument(...), as_json: bool = typer.Option(False, "--json"),
                    stack: Optional[str] = STACK) -> None:
    """The campaign's workflow state and its audit trail (who, when, what, comment)."""
    item, trail = _desk(stack).status(campaign_id)
    if item is None and not trail:
        err.print(f"[red]no workflow record for campaign {campaign_id!r}[/]")
        raise typer.Exit(1)
    if as_json:   # JSON lines, as everywhere records are printed: the pending request, then each transition
        for record in ([{"record": "request", **item}] if item else []) + [{"record": "transition", **row} for row in trail]:
            sys.stdout.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        return
    if item:
        approvers = ", ".join(item.get("approvers") or []) or "none"
        console.print(f"[bold]{campaign_id}[/]: [bold]{item['status']}[/] — submitted by {item['submitter']}, "
                      f"approvals {len(item.get('approvers') or [])} of {item.get('required', 1)} ({approvers})")
    else:
        console.print(f"[bold]{campaign_id}[/]: {trail[-1]['action']}")
    table = Table(title="audit trail")
    for column in ("when", "who", "action", "comment"):
        table.add_column(column, overflow="fold")   # ids and names wrap whole at any width, never cut
    for row in trail:
        table.add_row(str(row["at"]), str(row.get("by", "")), str(row["action"]), str(row.get("comment") or ""))
    console.print(table)


def _campaign_rows(target) -> dict[str, dict]:
    """Every campaign the stack knows: its definition's row in the campaigns table, and its workflow request."""
    from marketing.adapters.aws import from_item

    rows: dict[str, dict] = {}
    dynamodb = target.client("dynamodb")
    for table, kind in ((target.env["CAMPAIGNS_TABLE"], "campaign"), (target.env["AUDIT_TABLE"], "request")):
        kwargs: dict = {"TableName": table}
        if kind == "request":
            kwargs.update(FilterExpression="sk = :r", ExpressionAttributeValues={":r": {"S": "request"}})
        while True:
            page = dynamodb.scan(**kwargs)
            for item in page.get("Items", []):
                data = from_item(item)
                row = rows.setdefault(data["campaign_id"], {"campaign_id": data["campaign_id"]})
                if kind == "campaign":
                    definition = json.loads(data["definition"])
                    schedule = definition.get("schedule") or {}
                    row.update(state=data.get("status"), name=definition.get("name"),
                               priority=definition.get("priority"), owner=definition.get("owner"),
                               start=schedule.get("start"), end=schedule.get("end"))
                else:
                    row.update(workflow=data.get("status"), submitter=data.get("submitter"))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return rows


@campaign_app.command("list")
def campaign_list(as_json: bool = typer.Option(False, "--json", help="JSON lines"), stack: Optional[str] = STACK) -> None:
    """Every campaign: whether it is live, where its workflow stands, priority, schedule, owner."""
    rows = sorted(_campaign_rows(targets.resolve_target(stack)).values(),
                  key=lambda r: (-(r.get("priority") or 0), r["campaign_id"]))
    if as_json:
        for row in rows:
            sys.stdout.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        return
    table = Table(title=f"{len(rows)} campaign(s)")
    for column in ("campaign", "state", "workflow", "priority", "schedule", "owner"):
        table.add_column(column, overflow="fold")
    for row in rows:
        schedule = f"{row.get('start') or '?'} → {row.get('end') or '?'}" if row.get("start") else ""
        table.add_row(row["campaign_id"], row.get("state") or "not live", row.get("workflow") or "-",
                      str(row.get("priority", "")), schedule, row.get("owner") or row.get("submitter") or "")
    console.print(table)


def _reports_dir() -> Path:
    """reports/ in the project (where the demo writes too), else here."""
    from marketing_tools.project import ProjectNotFound, project_path

    try:
        return project_path("reports")
    except ProjectNotFound:
        return Path("reports")


@campaign_app.command("report")
def campaign_report(campaign_id: str = typer.Argument(...),
                    out: Optional[Path] = typer.Option(None, "--out", help="where to write the HTML report "
                                                       "(default: reports/<id>/report.html in the project)"),
                    open_: bool = typer.Option(False, "--open", help="open the HTML report in a browser"),
                    stack: Optional[str] = STACK) -> None:
    """Fetch the evaluation report: print its headline, write (and optionally open) the HTML."""
    report, html = _desk(stack).report(campaign_id)
    if report is None or html is None:
        err.print(f"[red]no report for campaign {campaign_id!r} yet[/] (it is written when the evaluation runs)")
        raise typer.Exit(1)
    console.print(f"[bold]{report.get('name', campaign_id)}[/]: {report.get('headline', '')}")
    path = out or _reports_dir() / campaign_id / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    path.with_suffix(".json").write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    console.print(f"  HTML report: {path}")
    if open_:
        webbrowser.open(path.resolve().as_uri())


@campaign_app.command("new")
def campaign_new(template: Optional[str] = typer.Argument(None, help="a template of events/templates/ (none: list them)"),
                 sets: list[str] = typer.Option([], "--set", help="key=value, a template parameter (repeatable)"),
                 out: Optional[Path] = typer.Option(None, "-o", "--out", help="write the campaign here (default: stdout)")
                 ) -> None:
    """Write a campaign from the scenario library, filled in with --set values; it is validated first."""
    import yaml

    from marketing_tools.templates import TemplateError, available, load_template, parse_sets

    if template is None:
        try:
            names = available()
        except TemplateError as error:
            err.print(f"[red]✗ {error}[/]")
            raise typer.Exit(1) from None
        table = Table(title="campaign templates (events/templates/)")
        table.add_column("template", overflow="fold")
        table.add_column("what it is", overflow="fold")
        table.add_column("parameters", overflow="fold")
        for name in names:
            t = load_template(name)
            table.add_row(name, t.description, ", ".join(f"{k}={v.get('default')}" for k, v in t.parameters.items()))
        console.print(table)
        return
    try:
        definition = load_template(template).render(parse_sets(sets))
    except TemplateError as error:
        err.print(f"[red]✗ {error}[/]")
        raise typer.Exit(1) from None
    from marketing.domain.campaigns import load_campaign

    loaded = load_campaign(definition, catalog(), tag_types())
    _refuse_invalid(loaded, f"template {template} with these values is not a valid campaign: "
                            f"{len(loaded.errors)} error(s)")
    text = f"# from template {template} (events/templates/{template}.yaml)\n" + yaml.safe_dump(
        definition, allow_unicode=True, sort_keys=False, width=120)
    if out is None:
        sys.stdout.write(text)
        return
    out.write_text(text, encoding="utf-8")
    console.print(f"[green]✓[/] {out}: campaign {definition.get('id')!r} from template {template} (valid)")


@campaign_app.command("validate")
def campaign_validate(file: Path = typer.Argument(..., help="campaign definition, YAML or JSON")) -> None:
    """Exit 0 when valid; otherwise print every error with its path and exit 1."""
    loaded = load_campaign_file(file, catalog(), tag_types())
    if loaded.ok:
        console.print(f"[green]✓[/] {file}: campaign {loaded.campaign.id!r} is valid")
        return
    err.print(f"[red]✗ {file}: {len(loaded.errors)} error(s)[/]")
    for error in loaded.errors:
        err.print(f"  {file}: {error}", highlight=False, markup=False)
    raise typer.Exit(1)
