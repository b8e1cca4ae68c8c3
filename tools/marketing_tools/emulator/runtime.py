"""The local runtime: moto's server on 127.0.0.1 with every resource, and the real handlers wired
to their event sources by the pollers (marketing_tools.emulator.pollers)."""
from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from typing import Any, Callable

import boto3

from marketing import resources as r
from marketing_tools.emulator.account import REGION
from marketing_tools.emulator.stack import create_stack
from marketing_tools.emulator.handlers import load_handler
from marketing_tools.emulator.moto_fixes import _IN_PROCESS, _IN_PROCESS_LOCK, _fix_moto, _hook_in_process_sends
from marketing_tools.emulator.pollers import KinesisPoller, SqsPoller, TopicPoller


class CallCounter:
    """Counts AWS API calls made through boto3's default session (the handlers' clients)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.enabled = True

    def __call__(self, model: Any = None, **_: Any) -> None:
        if self.enabled and model is not None:
            with self._lock:
                self.calls[f"{model.service_model.service_name}.{model.name}"] += 1

    def total(self) -> int:
        return sum(self.calls.values())



class Emulator:
    """moto's ThreadedMotoServer on a free port of 127.0.0.1, with every resource created.

    With `in_process` (the default), this process's own boto3 clients reach the server's application
    without a socket (_send_in_process); the server answers other processes over HTTP as usual."""

    def __init__(self, prefix: str = "marketing", port: int = 0, in_process: bool = True):
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        from moto.server import ThreadedMotoServer

        _fix_moto()

        self.prefix = prefix
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self._server.start()
        host, bound = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{bound}"
        self.env: dict[str, str] = {}
        if in_process:
            _hook_in_process_sends()
            with _IN_PROCESS_LOCK:
                _IN_PROCESS[self.endpoint] = self._server._server.app  # the app its HTTP server runs

    def configure_process(self) -> None:
        """Point this process's boto3 at the emulator (what the handlers read at cold start)."""
        os.environ.update({
            "AWS_ENDPOINT_URL": self.endpoint, "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_EC2_METADATA_DISABLED": "true",
        })
        boto3.setup_default_session(region_name=REGION)

    def create(self) -> dict[str, str]:
        self.configure_process()
        # the state machines run in this process's moto server: executed, calling back on its port,
        # their task functions being the real handlers (marketing_tools.emulator.state_machines)
        from marketing_tools.emulator import state_machines

        os.environ["MOTO_PORT"] = self.endpoint.rsplit(":", 1)[1]
        state_machines.enable_execution()
        self.env = create_stack(self.endpoint, self.prefix)
        state_machines.run_real_handlers(self.env, self.prefix)
        return self.env

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION)

    def stop(self) -> None:
        with _IN_PROCESS_LOCK:
            _IN_PROCESS.pop(self.endpoint, None)
        self._server.stop()


class Pipeline:
    """The three handlers wired to their sources, as `cdk deploy` wires them on AWS."""

    def __init__(self, env: dict[str, str], client: Callable[[str], Any]):
        """`env` is the stack's resource map (from create_stack); `client(service)` makes boto3 clients."""
        kinesis, sqs, sns = client("kinesis"), client("sqs"), client("sns")
        queue_url = {q.logical: env[q.env] for q in r.QUEUES}
        stream_name = {s.logical: env[s.env] for s in r.STREAMS}
        self.pollers: dict[str, KinesisPoller | SqsPoller | TopicPoller] = {}
        self.busy: dict[str, float] = {}
        for function in r.FUNCTIONS:
            source = function.source
            if not isinstance(source, (r.StreamMapping, r.QueueMapping, r.TopicSubscription)):
                continue  # an API function is invoked by its caller (marketing_tools.emulator.offer_api)
            handler = load_handler(function, env)
            if isinstance(source, r.StreamMapping):
                self.pollers[function.logical] = KinesisPoller(
                    kinesis, sqs, stream_name[source.stream], source, handler, function.logical,
                    queue_url[source.on_failure_queue])
            elif isinstance(source, r.QueueMapping):
                self.pollers[function.logical] = SqsPoller(sqs, queue_url[source.queue], source, handler, function.logical)
            elif isinstance(source, r.TopicSubscription):
                topic = next(t for t in r.TOPICS if t.logical == source.topic)
                self.pollers[function.logical] = TopicPoller(sns, sqs, env[topic.env], source, handler,
                                                             function.logical, queue_url[source.dead_letter])

    def step(self) -> int:
        moved = 0
        for name, poller in self.pollers.items():
            started = time.perf_counter()
            moved += poller.poll()
            self.busy[name] = self.busy.get(name, 0.0) + time.perf_counter() - started
        return moved

    def drain(self, idle_rounds: int = 3, timeout_s: float = 600, progress: Callable[[int], None] | None = None) -> int:
        """Poll until nothing moves for `idle_rounds` rounds; returns records completed."""
        total, idle, deadline = 0, 0, time.monotonic() + timeout_s
        while idle < idle_rounds and time.monotonic() < deadline:
            moved = self.step()
            total += moved
            if progress and moved:
                progress(moved)
            idle = 0 if moved else idle + 1
            if not moved:
                time.sleep(0.2)
        return total

