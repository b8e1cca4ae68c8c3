"""The whole suite runs against this checkout: the tools find events/ and functions/ here even when a
test changes the working directory (marketing_tools.project)."""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("MARKETING_PROJECT_DIR", str(Path(__file__).resolve().parents[1]))
