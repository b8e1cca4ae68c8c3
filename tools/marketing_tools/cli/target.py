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
from marketing_tools.project import ProjectNotFound, project_root
from marketing.domain.catalog import EventCatalog

console = Console()
err = Console(stderr=True, soft_wrap=True)  # an error line stays one line, also in pipes

def state_dir() -> Path:
    """Where `marketing local up` keeps the running stack's state, so every command finds it from any
    directory: MARKETING_STATE_DIR, else .marketing/ in the project (found from any directory inside
    it, marketing_tools.project), else .marketing/ here."""
    configured = os.environ.get("MARKETING_STATE_DIR")
    if configured:
        return Path(configured)
    try:
        return project_root() / ".marketing"
    except ProjectNotFound:
        return Path(".marketing")


def state_file() -> Path:
    return state_dir() / "local.json"

UNREACHABLE = 3


def tag_types() -> dict[str, str]:
    """The tag dictionary campaigns and profiles are checked against: TAGS_PATH, else the shipped one."""
    from marketing.data import TAGS
    from marketing.domain.tags import load_tag_types

    return load_tag_types(os.environ.get("TAGS_PATH") or packaged(TAGS))


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
    if not state_file().exists():
        err.print(f"[red]no local stack is running[/] (no {state_file()}; start it with `marketing local up`, "
                  "or pass --stack NAME)")
        raise typer.Exit(UNREACHABLE)
    state = json.loads(state_file().read_text())
    import urllib.request

    try:
        urllib.request.urlopen(state["endpoint"] + "/moto-api/", timeout=3)
    except OSError:
        err.print(f"[red]the local stack at {state['endpoint']} is unreachable[/] (run `marketing local up` again)")
        raise typer.Exit(UNREACHABLE) from None
    return Target(state["env"], state["endpoint"], "local")
