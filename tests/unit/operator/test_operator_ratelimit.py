"""The client-side rate limit: a token bucket as client-go's (burst at once, then qps)."""

from __future__ import annotations

from typing import Any, cast

import pytest
from test_operator_metrics import Clock

from taskapi_operator.kube import Kube
from taskapi_operator.ratelimit import TokenBucket


def test_a_burst_goes_at_once_then_requests_wait_their_turn_in_order() -> None:
    clock = Clock()
    bucket = TokenBucket(10, 3, clock=clock)
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    # over the burst: each reservation waits one more 1/qps than the one before
    assert [bucket.reserve() for _ in range(3)] == pytest.approx([0.1, 0.2, 0.3])


def test_the_bucket_refills_at_qps_up_to_the_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(8, 2, clock=clock)  # 1/8 s per token: exact in binary
    bucket.reserve()
    bucket.reserve()
    clock.now += 0.125  # one token back
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == 0.125
    clock.now += 3600  # a long quiet spell refills to the burst, no more
    assert [bucket.reserve() for _ in range(2)] == [0.0, 0.0]
    assert bucket.reserve() == 0.125


def test_zero_qps_is_no_limit() -> None:
    bucket = TokenBucket(0, 1, clock=Clock())
    assert not bucket.limited
    assert {bucket.reserve() for _ in range(1000)} == {0.0}


async def test_wait_sleeps_the_reserved_delay_and_counts_it() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    bucket = TokenBucket(4, 1, clock=Clock(), sleep=sleep)
    await bucket.wait()
    await bucket.wait()
    await bucket.wait()
    assert slept == pytest.approx([0.25, 0.5])
    assert bucket.waited_seconds == pytest.approx(0.75)


class _Answering:
    """ApiClient's one call, answering every request with an empty object."""

    async def request(self, method: str, path: str, **_: Any) -> tuple[int, Any]:
        return 200, {"metadata": {"name": "x", "namespace": "ns"}}


async def test_reconcile_requests_and_events_take_their_own_buckets_and_the_lease_none() -> None:
    async def no_wait(_: float) -> None:
        return None

    reconcile = TokenBucket(1, 1, clock=Clock(), sleep=no_wait)
    events = TokenBucket(1, 1, clock=Clock(), sleep=no_wait)
    kube = Kube(cast(Any, _Answering()), "fm", limiter=reconcile, event_limiter=events)
    taskapi = {"metadata": {"name": "a", "namespace": "ns", "uid": "u"}}
    await kube.get_lease("ns", "lease")  # election traffic: no token
    assert (reconcile.reserve(), events.reserve()) == (0.0, 0.0)  # both still had theirs
    await kube.post_event(taskapi, "Normal", "Ready", "ok", "2026-01-01T00:00:00Z")
    assert events.reserve() == 2.0  # the Event took the next token: two waits now
    assert reconcile.reserve() == 1.0  # untouched by the Event
