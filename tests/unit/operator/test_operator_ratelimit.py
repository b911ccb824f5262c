"""The client-side rate limit: a token bucket as client-go's (burst at once, then qps)."""

from __future__ import annotations

import pytest
from test_operator_metrics import Clock

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
