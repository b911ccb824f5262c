"""Client-side rate limit of the operator's Kubernetes requests: a token bucket, as client-go's
``flowcontrol.NewTokenBucketRateLimiter(qps, burst)`` (controller-runtime's default client).

The apiserver is shared: a mass create must not let the operator's own requests crowd out
the user's (their ``kubectl apply`` waits on the same apiserver and etcd). ``burst`` requests
go at once, then ``qps`` per second; a request over the limit waits its turn, first come first
served (a reservation each, as golang.org/x/time/rate does), never fails.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class TokenBucket:
    """``qps`` <= 0 means no limit (every request goes at once)."""

    def __init__(
        self,
        qps: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._qps = qps
        self._burst = max(1, burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(self._burst)
        self._last = clock()
        self.waited_seconds = 0.0  # total time requests spent waiting (a metric, the bench)

    @property
    def limited(self) -> bool:
        return self._qps > 0

    def reserve(self) -> float:
        """Take a token now; seconds to wait before using it (0: go). Tokens may go below
        zero: each waiter holds its place in line, and the bucket refills at ``qps``."""
        if not self.limited:
            return 0.0
        now = self._clock()
        self._tokens = min(float(self._burst), self._tokens + (now - self._last) * self._qps)
        self._last = now
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self._qps

    async def wait(self) -> None:
        """Return when this request may go."""
        delay = self.reserve()
        if delay > 0:
            self.waited_seconds += delay
            await self._sleep(delay)
