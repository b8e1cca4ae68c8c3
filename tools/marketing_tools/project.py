"""Where the project's files are (events/, functions/, reports/): the directory holding cdk.json.

Found from MARKETING_PROJECT_DIR, else from the working directory upwards, as the CDK CLI finds its
app; never from where this package is installed.
"""
from __future__ import annotations

import os
from pathlib import Path


class ProjectNotFound(RuntimeError):
    pass


def project_root() -> Path:
    configured = os.environ.get("MARKETING_PROJECT_DIR")
    if configured:
        return Path(configured).resolve()
    here = Path.cwd().resolve()
    for directory in (here, *here.parents):
        if (directory / "cdk.json").is_file() and (directory / "functions").is_dir():
            return directory
    raise ProjectNotFound(f"no project directory (holding cdk.json and functions/) at or above {here}; "
                          "run from the project or set MARKETING_PROJECT_DIR")


def project_path(*parts: str) -> Path:
    return project_root().joinpath(*parts)
