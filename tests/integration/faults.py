"""Fault injection for the integration tests: make a named AWS call fail, through the real handlers.

A fault is attached to `service.Operation` (botocore's names: "sns.Publish", "dynamodb.UpdateItem")
on the default boto3 session's event emitter, so it reaches every client created after it (the
pipeline's handlers create theirs at cold start: install faults before `world.start()`).

- `when="before"`: the call fails before it is sent, nothing is applied (throttling, 5xx, timeout).
- `when="after"`: the call was applied and its answer is lost (the caller sees the error), or,
  with `error="crash"`, the process dies: `Crash` is a BaseException, so it escapes the
  BatchProcessor the way a dying Lambda would, and the poller's event-source semantics
  (Kinesis retries/bisect/on-failure, SQS redelivery/maxReceiveCount) take over.

`times=None` fails every matching call; `match(params)` narrows the calls a fault applies to.
The runtime holds none of this: the hook lives in botocore's event system.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import boto3
from botocore.exceptions import ClientError, ReadTimeoutError

ERRORS = {  # error name -> (code, HTTP status)
    "throttle": ("ThrottlingException", 400),
    "provisioned": ("ProvisionedThroughputExceededException", 400),
    "5xx": ("InternalServerError", 500),
    "unavailable": ("ServiceUnavailable", 503),
}


class Crash(BaseException):
    """The process died at this call (not an Exception: nothing in the handler catches it)."""


@dataclass
class Fault:
    call: str                       # "service.Operation"
    error: str = "throttle"         # a key of ERRORS, "timeout" or "crash"
    times: int | None = 1           # None: always
    when: str = "before"            # "before" (nothing applied) or "after" (applied, answer lost)
    match: Callable[[dict[str, Any]], bool] = lambda params: True
    fired: int = field(default=0, init=False)

    def applies(self, call: str, params: dict[str, Any]) -> bool:
        return call == self.call and (self.times is None or self.fired < self.times) and self.match(params)

    def fire(self) -> None:
        self.fired += 1
        if self.error == "crash":
            raise Crash(f"process died at {self.call} ({self.when})")
        if self.error == "timeout":
            raise ReadTimeoutError(endpoint_url=f"https://{self.call}.local")
        code, status = ERRORS[self.error]
        raise ClientError({"Error": {"Code": code, "Message": f"injected {code}"},
                           "ResponseMetadata": {"HTTPStatusCode": status}}, self.call.split(".", 1)[1])


class Faults:
    """The faults installed on the default session; `inject` adds one and returns it (read `.fired`)."""

    def __init__(self, session: boto3.Session | None = None):
        session = session or boto3._get_default_session()
        self.faults: list[Fault] = []
        self.calls: list[str] = []
        events = session.events
        events.register("before-parameter-build", self._remember)
        events.register("before-call", self._before)
        events.register("after-call", self._after)

    def inject(self, call: str, error: str = "throttle", *, times: int | None = 1, when: str = "before",
               match: Callable[[dict[str, Any]], bool] = lambda params: True) -> Fault:
        if error not in ERRORS and error not in ("timeout", "crash"):
            raise ValueError(f"unknown fault {error!r}: one of {sorted(ERRORS)}, timeout, crash")
        if when not in ("before", "after"):
            raise ValueError(f"when must be 'before' or 'after', not {when!r}")
        fault = Fault(call, error, times, when, match)
        self.faults.append(fault)
        return fault

    @staticmethod
    def _name(model: Any) -> str:
        return f"{model.service_model.endpoint_prefix}.{model.name}"

    def _trigger(self, when: str, model: Any, params: dict[str, Any]) -> None:
        call = self._name(model)
        for fault in self.faults:
            if fault.when == when and fault.applies(call, params):
                fault.fire()

    def _remember(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["fault_params"] = dict(params)   # the caller's parameters, before serialisation

    def _before(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        self.calls.append(self._name(model))
        self._trigger("before", model, context.get("fault_params", {}))

    def _after(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        self._trigger("after", model, context.get("fault_params", {}))
