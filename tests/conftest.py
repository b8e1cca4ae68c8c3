"""The whole suite runs against this checkout: the tools find events/ and functions/ here even when a
test changes the working directory (marketing_tools.project)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

os.environ.setdefault("MARKETING_PROJECT_DIR", str(Path(__file__).resolve().parents[1]))
# the CLI's local-stack state: never the checkout's own .marketing/ (a developer's running stack)
os.environ.setdefault("MARKETING_STATE_DIR", tempfile.mkdtemp(prefix="marketing-state-"))
