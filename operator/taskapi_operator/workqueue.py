"""The work queue in front of the reconciler (controller-runtime's shape): many triggers, at
most one pass per TaskApi at a time, bounded lanes, resync turns and retries with backoff.

A pass is ``reconcile(key, full) -> Result``: ``full`` also applies children (a pod becoming
ready needs only status). Full and status passes of one TaskApi are requested apart, so a
status pass is not held back by a full pass waiting for its turn; the entry's lock keeps them
from running at the same time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from taskapi_operator.arrivals import Arrivals
from taskapi_operator.entries import Entries, Key
from taskapi_operator.errors import TransientError
from taskapi_operator.schedule import Schedule


@dataclass(frozen=True)
class Result:
    """What a pass asks of the queue: a status pass again after ``requeue_after`` seconds."""

    requeue_after: float | None = None


Reconcile = Callable[[Key, bool], Awaitable[Result]]
# Called after every pass with key, seconds and outcome (ok, transient, error, terminating).
PassObserver = Callable[[Key, float, str], None]
# Let a burst of watch events (e.g. a rollout) coalesce into one pass.
_COALESCE_SECONDS = 0.05


@dataclass
class _Drain:
    task: asyncio.Task[None] | None = None
    again: bool = False


class WorkQueue:
    """Schedules passes of the TaskApis in ``entries``; inactive (a standby) it starts none."""

    def __init__(
        self,
        entries: Entries,
        reconcile: Reconcile,
        schedule: Schedule,
        arrivals: Arrivals,
        *,
        concurrency: int,
        on_pass: PassObserver,
        logger: logging.Logger,
        active: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entries = entries
        self._reconcile = reconcile
        self._schedule = schedule
        self._arrivals = arrivals
        self._on_pass = on_pass
        self._logger = logger
        self._clock = clock
        self.active = active
        # At most this many passes run at once: 1000 TaskApis applied together must queue here,
        # not as 1000 concurrent writes in the apiserver (its ClusterIP allocator serializes
        # Service creates; requests queued there past the client timeout are retried and
        # leak addresses, and the queue never drains). Status passes (pods becoming ready)
        # have a lane of their own: queued behind the full passes of 1000 new TaskApis,
        # Ready would wait for all of them.
        self._lanes = {True: asyncio.Semaphore(concurrency), False: asyncio.Semaphore(concurrency)}
        self._drains: dict[tuple[Key, bool], _Drain] = {}  # each removes itself when done

    def kick(self, key: Key, *, full: bool, new: bool = False) -> None:
        """Request a pass; a request while one is queued or running runs once more after it.
        ``new``: a TaskApi never reconciled, just created; its first pass gives way to a burst
        of such arrivals (arrivals.py)."""
        arrived_at = self._arrivals.arrived() if new else None
        if key not in self._entries or not self.active:
            return
        drain = self._drains.setdefault((key, full), _Drain())
        if drain.task is None or drain.task.done():
            drain.task = asyncio.create_task(self._drain(key, full, drain, arrived_at))
        else:
            drain.again = True

    def pending(self) -> int:
        """Passes queued or running (the queue-depth gauge, the liveness probe)."""
        return len(self._drains)

    def _later(self, delay: float, key: Key, *, full: bool) -> None:
        asyncio.get_running_loop().call_later(delay, lambda: self.kick(key, full=full))

    async def _drain(
        self, key: Key, full: bool, drain: _Drain, arrived_at: float | None = None
    ) -> None:
        try:
            await asyncio.sleep(_COALESCE_SECONDS)
            if arrived_at is not None:
                await self._arrivals.settle(arrived_at)
            while True:
                drain.again = False
                await self._pass(key, full)
                if not drain.again:
                    break
        finally:
            self._drains.pop((key, full), None)

    async def _pass(self, key: Key, full: bool) -> None:
        entry = self._entries.get(key)
        if entry is None:
            return  # forgotten meanwhile
        started, outcome = self._clock(), "ok"
        try:
            async with self._lanes[full], entry.lock:
                started = self._clock()
                result = await self._reconcile(key, full)
            entry.failures = 0
            if result.requeue_after is not None:
                self._later(result.requeue_after, key, full=False)
        except TransientError as e:
            outcome = "terminating" if e.terminating else "transient"
            if not e.terminating:  # the namespace is going away with everything in it
                delay = self._retry(key, entry.failures + 1)
                self._logger.warning(
                    "Reconcile will retry taskapi=%s/%s delay=%.1fs attempt=%d err=%s",
                    *key,
                    delay,
                    entry.failures,
                    e,
                )
        except Exception:
            outcome = "error"
            self._logger.exception("Reconcile failed taskapi=%s/%s", *key)
            self._retry(key, entry.failures + 1)
        if full:
            entry.due = self._schedule.next(self._clock())
        self._on_pass(key, self._clock() - started, outcome)

    def _retry(self, key: Key, failures: int) -> float:
        entry = self._entries.get(key)
        if entry is not None:
            entry.failures = failures
        delay = self._schedule.retry(failures)
        self._later(delay, key, full=True)
        return delay

    async def resync_forever(self) -> None:
        """Periodic full passes, each TaskApi on its own jittered turn: probes stay current
        and missed passes are retried."""
        tick = min(1.0, self._schedule.interval / 4)
        while True:
            await asyncio.sleep(tick)
            now = self._clock()
            for key, entry in self._entries.items():
                if entry.due <= now:
                    entry.due = self._schedule.next(now)  # the next turn, even if inactive
                    # A full pass already queued or running is as good as a resync: asking
                    # again would run another one after it (a mass create's backlog outlasts
                    # the first turns, and each TaskApi was applied twice).
                    if (key, True) not in self._drains:
                        self.kick(key, full=True)

    async def activate(self) -> None:
        """Start passing (this replica leads): everything the warm caches know, at once."""
        self.active = True
        for key in self._entries.known():
            self.kick(key, full=True)

    async def deactivate(self) -> None:
        """Stop passing (leadership lost, or shutdown): passes in flight end now."""
        self.active = False
        tasks = [d.task for d in self._drains.values() if d.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._arrivals.close()  # a later burst is watched afresh
