"""Giving way to a mass create: while TaskApis keep arriving, new ones wait for their first pass.

A user's ``kubectl apply`` of 1000 TaskApis (or a GitOps sync of them) and the operator's
first passes share one apiserver, one etcd and, on a small control plane, the same cores: the
children each pass writes, and the ReplicaSets, pods and admission calls those cause, cost
the cluster far more than the TaskApi itself. Reconciling them while the writer is still at
it made its apply 4.6x slower at the operator's 100 QPS, 13x without a limit
(docs/benchmarks.md), while the work to be done stays the same whichever goes first. So
while TaskApis arrive in a burst (``burst`` of them within ``window`` seconds), a new one's
first pass waits until the arrivals calm down, but never longer than ``max_wait`` after it
arrived: the writer finishes at its own pace, then the operator catches up at its rate
limit. A TaskApi created alone, or a trickle of them, is not held back at all, nor is any
pass of a TaskApi already reconciled (its status says so) or a resync.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable


class Arrivals:
    """Arrival times of new TaskApis, and a wait for the end of a burst of them."""

    def __init__(
        self,
        *,
        burst: int,
        window: float,
        max_wait: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._recent: deque[float] = deque(maxlen=max(1, burst))
        self._window = window
        self._max_wait = max_wait
        self._clock = clock
        self._sleep = sleep
        self._calm = asyncio.Event()
        self._calm.set()
        self._watching: asyncio.Task[None] | None = None
        self.waited_seconds = 0.0  # total time first passes waited (a metric, the bench)

    @property
    def enabled(self) -> bool:
        return self._max_wait > 0

    def bursting(self) -> bool:
        """The last ``burst`` arrivals all came within ``window`` seconds of now."""
        recent = self._recent
        return len(recent) == recent.maxlen and self._clock() - recent[0] <= self._window

    def arrived(self) -> float:
        """Record a new TaskApi; returns its arrival time (for ``settle``)."""
        now = self._clock()
        self._recent.append(now)
        if self.enabled and self._calm.is_set() and self.bursting():
            self._calm.clear()
            self._watching = asyncio.create_task(self._watch())
        return now

    async def _watch(self) -> None:
        # Sleeps until the oldest of the last ``burst`` arrivals leaves the window, then looks
        # again (arrivals since may have moved it on): one wake-up per look, none to spare.
        while self.bursting():
            await self._sleep(max(0.0, self._recent[0] + self._window - self._clock()))
        self._calm.set()

    async def settle(self, arrived_at: float) -> None:
        """Return once no burst is on, or ``max_wait`` after ``arrived_at``."""
        if self._calm.is_set():
            return
        started = self._clock()
        left = arrived_at + self._max_wait - started
        if left > 0:
            # no task per waiter (wait_for would wrap each in one): 1000 of them wait at once
            with contextlib.suppress(TimeoutError):  # waited long enough: the burst goes on
                async with asyncio.timeout(left):
                    await self._calm.wait()
        self.waited_seconds += self._clock() - started

    async def close(self) -> None:
        """Stop watching the burst; whoever waits goes now (the queue stops or hands over)."""
        if self._watching is not None:
            self._watching.cancel()
            await asyncio.gather(self._watching, return_exceptions=True)
            self._watching = None
        self._calm.set()
