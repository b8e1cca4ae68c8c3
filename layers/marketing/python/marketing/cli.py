"""The `marketing` command (SPEC 4.6): demo, local stack, campaign validation, decision records.

Exit codes: 0 success, 1 invalid input (every error printed), 2 usage, 3 target stack unreachable.
Targets the local stack (.marketing/local.json) unless --stack NAME / MARKETING_STACK names a
deployed one, whose resources are found from its CloudFormation outputs.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from marketing.domain.campaigns import load_campaign_file
from marketing.domain.catalog import EventCatalog
from marketing.domain.decisions import current_records

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Real-time event marketing: demo, local stack, campaigns, decisions.")
campaign_app = typer.Typer(no_args_is_help=True, help="Campaign definitions and their workflow.")
local_app = typer.Typer(no_args_is_help=True, help="The embedded local stack (moto + the real handlers).")
app.add_typer(campaign_app, name="campaign")
app.add_typer(local_app, name="local")
console = Console()
err = Console(stderr=True, soft_wrap=True)  # an error line stays one line, also in pipes

STATE_DIR = Path(".marketing")
STATE_FILE = STATE_DIR / "local.json"
UNREACHABLE = 3


def _catalog() -> EventCatalog:
    from marketing.local.runtime import repo_path

    path = os.environ.get("CATALOG_PATH") or repo_path("events", "catalog.yaml")
    return EventCatalog.from_file(path)



class Target:
    """Where the commands act: resource names/URLs and, for the local stack, the endpoint."""

    def __init__(self, env: dict[str, str], endpoint: str | None, name: str):
        self.env, self.endpoint, self.name = env, endpoint, name

    def client(self, service: str) -> Any:
        import boto3

        if self.endpoint:
            return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1",
                                aws_access_key_id="local", aws_secret_access_key="local")
        return boto3.client(service)


def resolve_target(stack: str | None) -> Target:
    stack = stack or os.environ.get("MARKETING_STACK")
    if stack:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            outputs = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
        except (BotoCoreError, ClientError) as exc:
            err.print(f"[red]stack {stack!r} is unreachable:[/] {exc}")
            raise typer.Exit(UNREACHABLE) from None
        # output keys cannot hold "_"; each output's description is the environment variable name
        return Target({o.get("Description", o["OutputKey"]): o["OutputValue"] for o in outputs}, None, stack)
    if not STATE_FILE.exists():
        err.print("[red]no local stack is running[/] (start it with `marketing local up`, or pass --stack NAME)")
        raise typer.Exit(UNREACHABLE)
    state = json.loads(STATE_FILE.read_text())
    import urllib.request

    try:
        urllib.request.urlopen(state["endpoint"] + "/moto-api/", timeout=3)
    except OSError:
        err.print(f"[red]the local stack at {state['endpoint']} is unreachable[/] (run `marketing local up` again)")
        raise typer.Exit(UNREACHABLE) from None
    return Target(state["env"], state["endpoint"], "local")


@app.command()
def demo(
    profiles: int = typer.Option(10_000, help="synthetic profiles to load"),
    events: int = typer.Option(50_000, help="synthetic events to publish"),
    seed: int = typer.Option(42, help="seed of the synthetic data"),
) -> None:
    """Run the main job on the embedded emulator and print what happened."""
    from marketing.local.demo import run_demo

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


@campaign_app.command("validate")
def campaign_validate(file: Path = typer.Argument(..., help="campaign definition, YAML or JSON")) -> None:
    """Exit 0 when valid; otherwise print every error with its path and exit 1."""
    loaded = load_campaign_file(file, _catalog())
    if loaded.ok:
        console.print(f"[green]✓[/] {file}: campaign {loaded.campaign.id!r} is valid")
        return
    err.print(f"[red]✗ {file}: {len(loaded.errors)} error(s)[/]")
    for error in loaded.errors:
        err.print(f"  {file}: {error}", highlight=False, markup=False)
    raise typer.Exit(1)


@local_app.command("up")
def local_up(timeout: float = typer.Option(60.0, help="seconds to wait for the stack")) -> None:
    """Start the emulator with every resource and the pollers running the real handlers, in the background."""
    if STATE_FILE.exists():
        state = json.loads(STATE_FILE.read_text())
        if _alive(state.get("pid")):
            console.print(f"local stack already running at {state['endpoint']} (pid {state['pid']})")
            return
        STATE_FILE.unlink()
    STATE_DIR.mkdir(exist_ok=True)
    log = open(STATE_DIR / "local.log", "ab")
    process = subprocess.Popen([sys.executable, "-m", "marketing.local.serve", str(STATE_FILE)],
                               stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + timeout
    with console.status("starting the local stack…"):
        while not STATE_FILE.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                err.print(f"[red]the local stack did not start[/]; see {STATE_DIR / 'local.log'}")
                raise typer.Exit(UNREACHABLE)
            time.sleep(0.2)
    state = json.loads(STATE_FILE.read_text())
    console.print(f"[green]✓[/] local stack at {state['endpoint']} (pid {state['pid']}); state in {STATE_FILE}")


def _alive(pid: Any) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
        return True
    except OSError:
        return False


@local_app.command("down")
def local_down() -> None:
    """Stop the local stack."""
    if not STATE_FILE.exists():
        console.print("no local stack is running")
        return
    state = json.loads(STATE_FILE.read_text())
    if _alive(state.get("pid")):
        os.kill(int(state["pid"]), signal.SIGTERM)
        for _ in range(50):
            if not _alive(state["pid"]):
                break
            time.sleep(0.1)
    STATE_FILE.unlink(missing_ok=True)
    console.print("[green]✓[/] local stack stopped")


@local_app.command("status")
def local_status() -> None:
    """Show the local stack's address and its resources' state."""
    target = resolve_target(None)
    sqs = target.client("sqs")
    table = Table(title=f"local stack at {target.endpoint}")
    table.add_column("resource")
    table.add_column("name / state")
    for key, value in sorted(target.env.items()):
        state = value
        if key.endswith("_URL"):
            attrs = sqs.get_queue_attributes(QueueUrl=value, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
            state = f"{value.rsplit('/', 1)[-1]}: {attrs['ApproximateNumberOfMessages']} messages"
        table.add_row(key, state)
    console.print(table)


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

    target = resolve_target(stack)
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
        table.add_column(column)
    for row in list(rows.values())[:limit]:
        table.add_row(*[str(row.get(c) if row.get(c) is not None else "") for c in
                        ("event_id", "customer_id", "campaign_id", "outcome", "reason", "channel", "detail", "latency_ms")])
    console.print(table)


from marketing.cli_data import events_app, profiles_app  # noqa: E402
app.add_typer(profiles_app, name="profiles")
app.add_typer(events_app, name="events")
from marketing.cli_policy import policy_app  # noqa: E402
app.add_typer(policy_app, name="policy")
import marketing.cli_campaigns  # noqa: E402,F401  (registers campaign submit/approve/reject/status/report)


def main() -> None:
    app()


from marketing.cli_responses import offers_app, responses, sms_app  # noqa: E402
app.add_typer(offers_app, name="offers")
app.add_typer(sms_app, name="sms")
app.command()(responses)
