"""`marketing local up|down|status`: the embedded local stack, in the background."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import typer
from rich.table import Table

from marketing import resources
from marketing_tools.cli import target as targets
from marketing_tools.cli.target import UNREACHABLE, console, err, state_dir, state_file
from marketing_tools.emulator.status import STALE_AFTER_S, read_status

local_app = typer.Typer(no_args_is_help=True, help="The embedded local stack (moto + the real handlers).")


@local_app.command("up")
def local_up(timeout: float = typer.Option(60.0, help="seconds to wait for the stack")) -> None:
    """Start the emulator with every resource and the pollers running the real handlers, in the background."""
    if state_file().exists():
        state = json.loads(state_file().read_text())
        if _alive(state.get("pid")):
            console.print(f"local stack already running at {state['endpoint']} (pid {state['pid']})")
            return
        state_file().unlink()
    state_dir().mkdir(parents=True, exist_ok=True)
    log = open(state_dir() / "local.log", "ab")
    process = subprocess.Popen([sys.executable, "-m", "marketing_tools.emulator.serve", str(state_file())],
                               stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + timeout
    with console.status("starting the local stack…"):
        while not state_file().exists():
            if process.poll() is not None or time.monotonic() > deadline:
                err.print(f"[red]the local stack did not start[/]; see {state_dir() / 'local.log'}")
                raise typer.Exit(UNREACHABLE)
            time.sleep(0.2)
    state = json.loads(state_file().read_text())
    console.print(f"[green]✓[/] local stack at {state['endpoint']} (pid {state['pid']}); state in {state_file()}")


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
    if not state_file().exists():
        console.print("no local stack is running")
        return
    state = json.loads(state_file().read_text())
    if _alive(state.get("pid")):
        os.kill(int(state["pid"]), signal.SIGTERM)
        for _ in range(50):
            if not _alive(state["pid"]):
                break
            time.sleep(0.1)
    state_file().unlink(missing_ok=True)
    console.print("[green]✓[/] local stack stopped")


@local_app.command("status")
def local_status() -> None:
    """Show the local stack's address, its queues' depths, its other resources and the pipeline's state."""
    target = targets.resolve_target(None)
    sqs = target.client("sqs")
    queues = {queue.env: queue for queue in resources.QUEUES}
    table = Table(title=f"local stack at {target.endpoint or 'this process'}")
    table.add_column("resource", overflow="fold")
    table.add_column("name / state", overflow="fold")
    for key, value in sorted(target.env.items()):
        state = value
        if key in queues:   # only the queues resources.py describes: other *_URL values are web addresses
            attrs = sqs.get_queue_attributes(QueueUrl=value, AttributeNames=[
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed"])["Attributes"]
            state = (f"{value.rsplit('/', 1)[-1]}: {attrs['ApproximateNumberOfMessages']} waiting, "
                     f"{attrs['ApproximateNumberOfMessagesNotVisible']} in flight, "
                     f"{attrs['ApproximateNumberOfMessagesDelayed']} delayed")
        table.add_row(key, state)
    console.print(table)
    pipeline = read_status(state_dir() / "status.json")
    if pipeline is None or time.time() - pipeline.checked_at >= STALE_AFTER_S:
        console.print("pipeline: [yellow]not running[/] (no round recorded lately)")
    elif pipeline.idle_since is None:
        console.print(f"pipeline: [green]working[/] (pid {pipeline.pid})")
    else:
        console.print(f"pipeline: idle for {time.time() - pipeline.idle_since:,.0f} s (pid {pipeline.pid})")
