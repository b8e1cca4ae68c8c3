"""`marketing policy push FILE` and `marketing policy show`: the contact policy in force, live.

The file shipped with the functions (events/contact_policy.yaml) is the default; a pushed copy in
the settings table overrides it for decide and deliver within their cache time (POLICY_CACHE_SECONDS),
without a redeploy. A file that does not validate is refused with every error, and nothing is stored.
"""
from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import Optional

import typer
import yaml
from pydantic import ValidationError

from marketing.domain.contact_policy import ContactPolicy
from marketing_tools.cli import target as targets
from marketing_tools.cli.target import console, err

policy_app = typer.Typer(no_args_is_help=True, help="The contact policy in force (live, without a redeploy).")
INVALID, UNREACHABLE = 1, 3


def _store(stack: str | None):
    from marketing.adapters.aws import DynamoPolicyStore

    target = targets.resolve_target(stack)
    return target, DynamoPolicyStore(target.client("dynamodb"), target.env["SETTINGS_TABLE"])


@policy_app.command("push")
def policy_push(
    file: Path = typer.Argument(..., help="contact policy, YAML or JSON (the shape of events/contact_policy.yaml)"),
    by: str = typer.Option(None, "--by", help="who pushes it (recorded with the version)"),
    stack: Optional[str] = typer.Option(None, "--stack", help="a deployed stack (default: the local one)"),
) -> None:
    from botocore.exceptions import BotoCoreError, ClientError


    try:
        document = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        policy = ContactPolicy.model_validate(document)
    except (OSError, yaml.YAMLError) as exc:
        err.print(f"[red]cannot read {file}:[/] {exc}", highlight=False)
        raise typer.Exit(INVALID) from None
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "(top level)"
            err.print(f"{file}: {where}: {error['msg']}", markup=False, highlight=False)
        raise typer.Exit(INVALID) from None
    target, store = _store(stack)
    try:
        version = store.put_policy(policy.model_dump(mode="json"), by or getpass.getuser())
    except (BotoCoreError, ClientError) as exc:
        err.print(f"[red]the target stack {target.name!r} refused the policy:[/] {exc}", highlight=False)
        raise typer.Exit(UNREACHABLE) from None
    console.print(f"[green]✓[/] contact policy version {version} is in force on {target.name} "
                  "(decide and deliver pick it up within their cache time)")


@policy_app.command("show")
def policy_show(
    stack: Optional[str] = typer.Option(None, "--stack", help="a deployed stack (default: the local one)"),
) -> None:
    """The stored policy as YAML (with its version), or say that the shipped file is in force."""

    target, store = _store(stack)
    stored = store.describe()
    if stored is None:
        console.print(f"no policy pushed to {target.name}: the file shipped with the functions is in force")
        return
    header = f"# version {stored.get('version')} by {stored.get('updated_by')} at {stored.get('updated_at')}\n"
    sys.stdout.write(header + yaml.safe_dump(json.loads(stored["document"]), allow_unicode=True, sort_keys=False))
