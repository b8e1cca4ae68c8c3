"""The `marketing` command run in-process against a test's stack (the `stack` fixture, conftest.py)."""
from __future__ import annotations

from typer.testing import CliRunner

from marketing_tools.cli.main import app


def run(*args: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `marketing ARGS`; an exception other than an exit is raised."""
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr or ""
