"""`marketing local up` runs this in the background: the emulator, every resource, and the pollers.

Writes its address and resource names to .marketing/local.json, whether the pipeline is busy or idle
to .marketing/status.json (for `events publish --wait`); stops on SIGTERM (`local down`).
"""
from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

from marketing_tools.emulator.runtime import Emulator, Pipeline
from marketing_tools.emulator.offer_api import LocalOfferApi, serve_http
from marketing_tools.emulator.status import StatusRecorder


def main(state_file: str) -> None:
    emulator = Emulator()
    env = emulator.create()   # no campaign is live: they arrive through approval (`marketing samples load`)
    pipeline = Pipeline(emulator.env, emulator.client)
    offer_api = serve_http(LocalOfferApi(env))  # the inbound offer API on 127.0.0.1 (local.json: offer_api)
    status = StatusRecorder(Path(state_file).with_name("status.json"))
    running = True

    def stop(*_: object) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    Path(state_file).write_text(json.dumps({"endpoint": emulator.endpoint, "pid": os.getpid(), "env": env,
                                            "offer_api": f"http://127.0.0.1:{offer_api.server_address[1]}",
                                            "started_at": time.time()}, indent=2))
    while running:
        started = time.time()
        moved = pipeline.step()
        status.record(started, moved)
        if not moved:
            time.sleep(0.3)
    offer_api.shutdown()
    emulator.stop()
    status.remove()
    Path(state_file).unlink(missing_ok=True)


if __name__ == "__main__":
    main(sys.argv[1])
