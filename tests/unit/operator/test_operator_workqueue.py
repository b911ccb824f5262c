"""The work queue (coalescing, lanes, backoff, requeue, resync, leadership) and the per-TaskApi
entries (one deletion forgets, resourceVersions compared only for equality)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from taskapi_operator.arrivals import Arrivals
from taskapi_operator.entries import Entries, Key
from taskapi_operator.errors import TransientError
from taskapi_operator.kube import KubeError, kube_error
from taskapi_operator.schedule import Schedule
from taskapi_operator.workqueue import Result, WorkQueue

LOG = logging.getLogger("test.workqueue")
A: Key = ("ns", "a")


def body(name: str = "a", rv: str = "x1", **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "ns", "name": name, "resourceVersion": rv, "generation": 1},
        "spec": spec,
    }


class Passes:
    """A reconcile function that records its calls and does what it is told."""

    def __init__(self) -> None:
        self.calls: list[tuple[Key, bool]] = []
        self.raises: list[BaseException] = []
        self.results: list[Result] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, key: Key, full: bool) -> Result:
        self.calls.append((key, full))
        await self.gate.wait()
        if self.raises:
            raise self.raises.pop(0)
        return self.results.pop(0) if self.results else Result()


def queue(
    passes: Passes, *, active: bool = True, arrivals: Arrivals | None = None
) -> tuple[WorkQueue, Entries, list[str]]:
    outcomes: list[str] = []
    schedule = Schedule(30, 0.1, 0.01, 0.02, rand=lambda: 1.0)
    entries = Entries(lambda: 100.0)
    work = WorkQueue(
        entries,
        passes,
        schedule,
        arrivals or Arrivals(burst=20, window=2.0, max_wait=30.0),
        concurrency=2,
        on_pass=lambda _key, _seconds, outcome: outcomes.append(outcome),
        logger=LOG,
        active=active,
    )
    return work, entries, outcomes


async def idle(work: WorkQueue, seconds: float = 0.2) -> None:
    await asyncio.sleep(seconds)
    for _ in range(100):
        if not work.pending():
            return
        await asyncio.sleep(0.02)


async def test_kicks_coalesce_and_one_during_a_pass_runs_once_more() -> None:
    passes = Passes()
    work, entries, outcomes = queue(passes)
    entries.remember(body())
    for _ in range(5):
        work.kick(A, full=True)
    await idle(work)
    assert passes.calls == [(A, True)]
    passes.gate.clear()
    work.kick(A, full=True)
    await asyncio.sleep(0.1)  # running now, held
    work.kick(A, full=True)
    work.kick(A, full=True)
    passes.gate.set()
    await idle(work)
    assert passes.calls == [(A, True)] * 3
    assert outcomes == ["ok"] * 3
    work.kick(("ns", "unknown"), full=True)  # not a TaskApi the watch delivered
    await idle(work)
    assert len(passes.calls) == 3


async def test_a_transient_error_is_retried_with_backoff_as_a_full_pass() -> None:
    passes = Passes()
    work, entries, outcomes = queue(passes)
    entries.remember(body())
    passes.raises = [kube_error(503, "unavailable"), kube_error(429, "slow down")]
    work.kick(A, full=False)
    await idle(work, 0.3)
    assert passes.calls == [(A, False), (A, True), (A, True)]
    assert outcomes == ["transient", "transient", "ok"]
    entry = entries.get(A)
    assert entry is not None
    assert entry.failures == 0  # reset by the pass that succeeded


async def test_a_terminating_namespace_is_not_retried() -> None:
    passes = Passes()
    work, entries, outcomes = queue(passes)
    entries.remember(body())
    passes.raises = [kube_error(403, "namespace ns is being terminated")]
    work.kick(A, full=True)
    await idle(work, 0.3)
    assert outcomes == ["terminating"]
    assert len(passes.calls) == 1


async def test_any_other_error_is_an_error_and_retried() -> None:
    passes = Passes()
    work, entries, outcomes = queue(passes)
    entries.remember(body())
    lasting = kube_error(422, "invalid")
    assert not isinstance(lasting, TransientError)
    passes.raises = [lasting, RuntimeError("a bug")]
    work.kick(A, full=True)
    await idle(work, 0.4)
    assert outcomes == ["error", "error", "ok"]


async def test_requeue_after_asks_for_a_status_pass_later() -> None:
    passes = Passes()
    work, entries, _ = queue(passes)
    entries.remember(body())
    passes.results = [Result(requeue_after=0.05)]
    work.kick(A, full=True)
    await idle(work, 0.3)
    assert passes.calls == [(A, True), (A, False)]


async def test_an_inactive_queue_starts_nothing_until_activated() -> None:
    passes = Passes()
    work, entries, _ = queue(passes, active=False)
    entries.remember(body())
    entries.remember(body("b"))
    work.kick(A, full=True)
    await idle(work)
    assert passes.calls == []
    await work.activate()
    await idle(work)
    assert sorted(passes.calls) == [(A, True), (("ns", "b"), True)]


async def test_deactivate_ends_passes_in_flight() -> None:
    passes = Passes()
    work, entries, _ = queue(passes)
    entries.remember(body())
    passes.gate.clear()
    work.kick(A, full=True)
    await asyncio.sleep(0.1)
    assert work.pending() == 1
    await work.deactivate()
    assert work.pending() == 0
    work.kick(A, full=True)
    assert work.pending() == 0


def resyncing(passes: Passes) -> tuple[WorkQueue, Entries]:
    """A queue with one lane, a 0.2 s resync (no jitter) and entries due at once."""
    schedule = Schedule(0.2, 0.1, 0.01, 0.02, rand=lambda: 0.5)
    entries = Entries(lambda: 0.0)
    arrivals = Arrivals(burst=20, window=2.0, max_wait=30.0)
    work = WorkQueue(
        entries, passes, schedule, arrivals, concurrency=1, on_pass=lambda *_: None, logger=LOG,
        clock=lambda: 0.0,
    )  # fmt: skip
    return work, entries


async def test_resync_kicks_what_is_due_and_moves_its_turn() -> None:
    passes = Passes()
    work, entries = resyncing(passes)
    entries.remember(body())
    task = asyncio.create_task(work.resync_forever())
    try:
        await asyncio.sleep(0.2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    await idle(work)
    assert passes.calls == [(A, True)]
    entry = entries.get(A)
    assert entry is not None
    assert entry.due == pytest.approx(0.2)  # now + one interval (rand 0.5: no jitter)


async def test_a_forgotten_taskapi_is_not_passed() -> None:
    passes = Passes()
    work, entries, outcomes = queue(passes)
    entries.remember(body())
    work.kick(A, full=True)
    entries.forget(A)
    await idle(work)
    assert passes.calls == []
    assert outcomes == []


def test_forgetting_a_taskapi_is_one_deletion_and_spares_its_namesakes() -> None:
    entries = Entries(lambda: 0.0)
    for name in ("a", "ab"):
        entries.remember(body(name))
        entry = entries.get(("ns", name))
        assert entry is not None
        entry.wrote_child("services", body(name, "s1"), [None])
    entries.forget(A)
    assert entries.known() == [("ns", "ab")]
    kept = entries.get(("ns", "ab"))
    assert kept is not None
    assert list(kept.written) == [("services", "ab")]


def test_an_echo_of_an_older_status_write_is_skipped_newer_versions_are_not() -> None:
    entries = Entries(lambda: 0.0)
    assert entries.remember(body(rv="zz")) == (A, True)
    entry = entries.get(A)
    assert entry is not None
    entry.wrote_status({**body(rv="b7"), "status": {"ready": "0/2"}})
    entry.wrote_status({**body(rv="a1"), "status": {"ready": "1/2"}})  # not ordered as ints
    assert entries.remember(body(rv="b7")) == (A, False)  # the first write's echo: older
    assert entry.body["status"] == {"ready": "1/2"}
    assert entries.remember({**body(rv="a1"), "status": {"ready": "1/2"}}) == (A, False)
    # caught up: whatever the watch brings next is newer, even an "older-looking" version
    assert entries.remember(body(rv="0", replicas=3)) == (A, True)
    assert entry.body["metadata"]["resourceVersion"] == "0"


def test_a_written_child_is_preferred_only_while_the_cache_shows_what_it_replaced() -> None:
    entries = Entries(lambda: 0.0)
    entries.remember(body())
    entry = entries.get(A)
    assert entry is not None
    cached = body("svc", "old")
    entry.wrote_child("services", body("svc", "new1"), [cached])
    assert entry.freshest("services", "svc", cached)["metadata"]["resourceVersion"] == "new1"
    entry.wrote_child("services", body("svc", "new2"), [cached])
    echo = body("svc", "new1")  # the first write's echo: still behind the second
    assert entry.freshest("services", "svc", echo)["metadata"]["resourceVersion"] == "new2"
    someone = body("svc", "other")  # a version the writes did not replace: newer
    assert entry.freshest("services", "svc", someone) is someone
    assert entry.written == {}
    entry.wrote_child("services", body("svc", "new3"), [someone])
    assert entry.freshest("services", "svc", None) is None  # deleted: ask the API
    assert entry.written == {}


def test_a_written_child_is_dropped_once_its_watch_catches_up() -> None:
    entries = Entries(lambda: 0.0)
    entries.remember(body())
    entry = entries.get(A)
    assert entry is not None
    entry.wrote_child("services", body("svc", "new1"), [body("svc", "old")])
    entry.seen_child("services", body("svc", "old"))  # a version the write replaced: behind
    assert ("services", "svc") in entry.written
    assert entry.observed("services", "svc", None) is not None  # status shows the write
    entry.seen_child("services", body("svc", "new1"))  # the write's echo: caught up
    assert entry.written == {}


def test_transient_classification_is_made_once_by_status() -> None:
    for status in (0, 409, 429, 500, 503):
        assert isinstance(kube_error(status, "x"), TransientError)
    for status in (400, 403, 404, 422):
        error = kube_error(status, "x")
        assert isinstance(error, KubeError)
        assert not isinstance(error, TransientError)
    terminating = kube_error(403, "namespace x is being terminated")
    assert isinstance(terminating, TransientError)
    assert terminating.terminating


async def test_resync_does_not_queue_a_second_pass_behind_a_queued_one() -> None:
    """A mass create's backlog outlasts the first resync turns: a TaskApi whose full pass is
    still waiting for a lane gets that one pass, not a resync pass after it too."""
    passes = Passes()
    passes.gate.clear()  # the pass in flight holds the only lane
    work, entries = resyncing(passes)  # every entry due at once
    entries.remember(body())
    work.kick(A, full=True)
    task = asyncio.create_task(work.resync_forever())
    try:
        entry = entries.get(A)
        assert entry is not None
        for _ in range(500):  # until the resync's tick has found the entry due
            if entry.due > 0:
                break
            await asyncio.sleep(0.01)
        assert entry.due > 0  # its turn was taken...
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    passes.gate.set()
    await idle(work)
    assert passes.calls == [(A, True)]  # ...by the pass already queued


# --- giving way to a burst of new TaskApis (arrivals.py) ------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def bursty(clock: Clock, max_wait: float = 30.0) -> Arrivals:
    """3 arrivals within 1 s are a burst; its watcher re-checks every few milliseconds."""

    async def sleep(_: float) -> None:
        await asyncio.sleep(0.01)

    return Arrivals(burst=3, window=1.0, max_wait=max_wait, clock=clock, sleep=sleep)


def arrive(work: WorkQueue, entries: Entries, names: list[str]) -> list[Key]:
    keys = []
    for name in names:
        key, _ = entries.remember(body(name))
        work.kick(key, full=True, new=True)
        keys.append(key)
    return keys


async def test_first_passes_of_a_burst_wait_until_the_arrivals_calm_down() -> None:
    clock, passes = Clock(), Passes()
    arrivals = bursty(clock)
    work, entries, _ = queue(passes, arrivals=arrivals)
    keys = arrive(work, entries, ["a", "b", "c"])
    assert arrivals.bursting()
    await asyncio.sleep(0.2)
    assert passes.calls == []  # still arriving: the writer has the apiserver
    work.kick(keys[0], full=False)  # a status pass is no first pass: it goes
    await asyncio.sleep(0.2)
    assert passes.calls == [(keys[0], False)]
    clock.now = 1.5  # no arrival for longer than the window: the burst is over
    await idle(work)
    assert sorted(passes.calls[1:]) == [(k, True) for k in keys]
    assert arrivals.waited_seconds == pytest.approx(3 * 1.5)


async def test_a_lone_new_taskapi_and_a_trickle_are_passed_at_once() -> None:
    clock, passes = Clock(), Passes()
    arrivals = bursty(clock)
    work, entries, _ = queue(passes, arrivals=arrivals)
    for i, name in enumerate(["a", "b", "c", "d"]):
        clock.now = 0.6 * i  # 3 arrivals never within 1 s
        arrive(work, entries, [name])
        await idle(work)
        assert len(passes.calls) == i + 1
    assert arrivals.waited_seconds == 0.0


async def test_a_first_pass_waits_at_most_max_wait_for_a_burst_that_goes_on() -> None:
    clock, passes = Clock(), Passes()
    arrivals = bursty(clock, max_wait=0.1)  # the clock stands still: the burst never ends
    work, entries, _ = queue(passes, arrivals=arrivals)
    keys = arrive(work, entries, ["a", "b", "c"])
    await idle(work, 0.4)
    assert arrivals.bursting()
    assert sorted(passes.calls) == [(k, True) for k in keys]
    await arrivals.close()


async def test_losing_leadership_releases_first_passes_waiting_for_a_burst() -> None:
    clock, passes = Clock(), Passes()
    arrivals = bursty(clock)
    work, entries, _ = queue(passes, arrivals=arrivals)
    arrive(work, entries, ["a", "b", "c"])
    await asyncio.sleep(0.1)
    await work.deactivate()
    assert work.pending() == 0
    assert passes.calls == []
    await work.activate()  # the new leader's passes: known TaskApis, not arrivals
    await idle(work)
    assert len(passes.calls) == 3
