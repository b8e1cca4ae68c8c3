"""Send-rate limits (contact policy `send_rates`): never hand a provider more messages per second than
it accepts, counted across every concurrent deliver function by the SendPacer (one atomic counter
per sender and time window).

A message takes a slot in the current window or one of the next few (sleeping until it opens);
when none is free within the horizon it goes back on the queue, delayed, instead of keeping the
function busy. Windows are whole seconds (or 1/rate seconds for rates below one a second).
"""
from __future__ import annotations

import math
import time
from typing import Callable

from marketing.ports import SendPacer


class Paced(Exception):
    """No send slot within the horizon: the message waits on the queue for `delay_s`."""

    def __init__(self, key: str, delay_s: int):
        super().__init__(f"{key}: no send slot within the next {delay_s}s")
        self.key, self.delay_s = key, delay_s


class Pacing:
    def __init__(self, pacer: SendPacer, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep, horizon_s: float = 2.0):
        self._pacer, self._clock, self._sleep, self._horizon = pacer, clock, sleep, horizon_s

    def acquire(self, key: str, rate: float | None) -> None:
        """Return when a send of `key` may go out now (within its rate); raise Paced otherwise."""
        if not rate:
            return
        window_s = 1 if rate >= 1 else math.ceil(1 / rate)
        limit = max(1, int(rate * window_s))
        now = self._clock()
        first = int(now // window_s)
        window = first
        while window * window_s - now <= self._horizon:
            if self._pacer.take(key, limit, window):
                opens = window * window_s - self._clock()
                if opens > 0:
                    self._sleep(opens)
                return
            window += 1
        raise Paced(key, max(1, math.ceil(window * window_s - now)))


class Unpaced:
    """Pacing switched off (no send-rates table): every send goes out at once, at the provider's own limits."""

    def acquire(self, key: str, rate: float | None) -> None:
        return None
