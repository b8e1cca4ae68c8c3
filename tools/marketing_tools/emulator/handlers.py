"""The real handlers in this process: functions/<dir>/handler.py imported fresh (a cold start) with
the function's environment, and the Lambda context they read."""
from __future__ import annotations

import importlib.util
import os
import sys
import time
import uuid
import warnings
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable

from marketing import resources as r
from marketing_tools.emulator.account import ACCOUNT, REGION
from marketing_tools.project import project_path


# the function whose handler is running in this thread (what an AWS call is made on behalf of: the
# call-recording tests read it to check each call against that function's role)
current_function: ContextVar[str | None] = ContextVar("current_function", default=None)


@dataclass
class LocalContext:
    """What a handler reads from the Lambda context."""

    function_name: str
    memory_limit_in_mb: int = 512
    timeout_s: int = 60
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return "local"

    @property
    def function_version(self) -> str:
        return "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_s - (time.monotonic() - self.started)) * 1000))


def handler_env(stack_env: dict[str, str], function: r.Function) -> dict[str, str]:
    return {
        **stack_env,
        "POWERTOOLS_SERVICE_NAME": function.logical,
        "POWERTOOLS_METRICS_NAMESPACE": "EventMarketing",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": os.environ.get("MARKETING_METRICS_DISABLED", "true"),  # EMF on stdout when off
        "POWERTOOLS_LOG_LEVEL": os.environ.get("MARKETING_LOG_LEVEL", "ERROR"),
        "CAMPAIGN_CACHE_SECONDS": os.environ.get("CAMPAIGN_CACHE_SECONDS", "2"),
    }


def load_handler(function: r.Function, env: dict[str, str]) -> Callable[[dict, Any], dict]:
    """Import functions/<dir>/handler.py as a fresh module (a cold start) with its environment set."""
    # metrics are disabled locally, so Powertools' "no metrics to publish" warning is noise here
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    os.environ.update(handler_env(env, function))
    path = project_path("functions", function.handler_dir, "handler.py")
    name = f"local_handler_{function.logical}_{uuid.uuid4().hex[:6]}"
    spec = importlib.util.spec_from_file_location(name, path)
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    token = current_function.set(function.logical)   # what its cold start calls is its own too
    try:
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    finally:
        current_function.reset(token)
    handler = module.handler

    def invoke(event: dict, context: Any) -> Any:
        token = current_function.set(function.logical)
        try:
            return handler(event, context)
        finally:
            current_function.reset(token)

    return invoke

