"""When a TaskApi's next pass is due (pure arithmetic, randomness passed in): resyncs spread
and jittered, failed passes retried with bounded exponential backoff."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Schedule:
    interval: float
    jitter: float  # fraction of the interval, e.g. 0.1: each turn comes at interval ±10%
    retry_base: float
    retry_max: float
    rand: Callable[[], float] = random.random  # in [0, 1)

    def first(self, now: float) -> float:
        """A new TaskApi's first resync falls anywhere in the next interval: spread, so
        that 1000 TaskApis listed at start-up do not come due at the same instant."""
        return now + self.interval * self.rand()

    def next(self, now: float) -> float:
        """After a full pass the next resync is one jittered interval away."""
        return now + self.interval * (1 + self.jitter * (2 * self.rand() - 1))

    def retry(self, failures: int) -> float:
        """Delay before the retry after ``failures`` consecutive failures (>= 1): base *
        2^(n-1), capped, jittered to 50-100% so that TaskApis failing together do not retry
        together."""
        delay = min(self.retry_max, self.retry_base * 2 ** min(max(failures, 1) - 1, 30))
        return float(delay * (0.5 + 0.5 * self.rand()))
