"""Where the CLI acts (the local stack or a deployed one) and how it prints: shared by every command.

Targets the local stack (.marketing/local.json) unless --stack NAME / MARKETING_STACK names a
deployed one, whose resources are found from its CloudFormation outputs.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from marketing.data import CATALOG, packaged
from marketing.domain.catalog import EventCatalog

console = Console()
err = Console(stderr=True, soft_wrap=True)  # an error line stays one line, also in pipes

STATE_DIR = Path(".marketing")
STATE_FILE = STATE_DIR / "local.json"
UNREACHABLE = 3


def catalog() -> EventCatalog:
    """The catalog the commands validate against: CATALOG_PATH, else the one the functions ship with."""
    path = os.environ.get("CATALOG_PATH") or packaged(CATALOG)
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
