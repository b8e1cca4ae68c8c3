"""Whether the local pipeline (`marketing local up`) is working or idle, in .marketing/status.json.

The background process records each round of its pollers; `events publish --wait` reads the file to
tell "processed, with no decision record to show" from "not processed yet". It says nothing about a
deployed stack, and it must never be read as more than "nothing moved for a while".
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

IDLE_FOR_S = 2.0  # longer than the SQS pollers' 1 s retry delay: a message waiting to come back is not idle
STALE_AFTER_S = 10.0  # no round recorded for this long: the pipeline is not running (or is in a long round)
WRITE_EVERY_S = 0.5


@dataclass(frozen=True)
class PipelineStatus:
    pid: int
    checked_at: float          # wall-clock start of the latest round
    idle_since: float | None   # start of the first of the rounds in a row that moved nothing; None while busy

    def idle_after(self, moment: float, now: float | None = None) -> bool:
        """True when every round that began after `moment` found nothing to do, for IDLE_FOR_S and more:
        anything put on the pipeline's sources before `moment` has been processed."""
        now = time.time() if now is None else now
        return (self.idle_since is not None and self.idle_since > moment
                and self.checked_at - self.idle_since >= IDLE_FOR_S and now - self.checked_at < STALE_AFTER_S)


def read_status(path: Path) -> PipelineStatus | None:
    try:
        data = json.loads(Path(path).read_text())
        return PipelineStatus(int(data["pid"]), float(data["checked_at"]),
                              None if data.get("idle_since") is None else float(data["idle_since"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


class StatusRecorder:
    """Writes the file after pipeline rounds: at once when busy turns idle or back, else every half second."""

    def __init__(self, path: Path, pid: int | None = None):
        self.path, self._pid = Path(path), pid or os.getpid()
        self._idle_since: float | None = None
        self._written = 0.0

    def record(self, started: float, moved: int) -> None:
        """`started`: time.time() when the round began; `moved`: records it completed."""
        changed = (self._idle_since is None) == (moved == 0)   # busy turned idle, or idle turned busy
        if moved:
            self._idle_since = None
        elif self._idle_since is None:
            self._idle_since = started
        if changed or started - self._written >= WRITE_EVERY_S:
            self._write(started)

    def _write(self, checked_at: float) -> None:
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"pid": self._pid, "checked_at": checked_at, "idle_since": self._idle_since}))
        temporary.replace(self.path)  # readers never see half a file
        self._written = checked_at

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
