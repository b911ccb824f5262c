"""Resync spread and jitter, bounded retry backoff, the status-echo filter and Secret checks."""

from __future__ import annotations

import asyncio

import pytest

from taskapi_operator.entries import needs_full_pass
from taskapi_operator.kube import KubeError
from taskapi_operator.schedule import Schedule
from taskapi_operator.secret_checks import SecretChecks


def test_first_resyncs_are_spread_over_the_interval() -> None:
    values = iter([0.0, 0.5, 0.99])
    schedule = Schedule(30, 0.1, 0.5, 30, rand=lambda: next(values))
    assert [schedule.first(100) for _ in range(3)] == [100, 115, pytest.approx(129.7)]


def test_next_turn_is_one_jittered_interval_away() -> None:
    assert Schedule(30, 0.1, 0.5, 30, rand=lambda: 1.0).next(0) == pytest.approx(33.0)
    assert Schedule(30, 0.1, 0.5, 30, rand=lambda: 0.0).next(0) == pytest.approx(27.0)


def test_retry_backoff_doubles_and_is_capped() -> None:
    schedule = Schedule(30, 0.1, 0.5, 4, rand=lambda: 1.0)  # no jitter reduction
    assert [schedule.retry(n) for n in range(1, 7)] == [0.5, 1, 2, 4, 4, 4]
    low = Schedule(30, 0.1, 0.5, 4, rand=lambda: 0.0)
    assert low.retry(1) == 0.25  # jittered down to half, never to zero


@pytest.mark.parametrize(
    ("status", "transient"),
    [
        (0, True),
        (409, True),
        (429, True),
        (500, True),
        (503, True),
        (403, False),
        (404, False),
        (422, False),
        (400, False),
    ],
)
def test_transient_statuses(status: int, transient: bool) -> None:
    assert KubeError(status, "x").transient is transient


def test_own_status_echo_needs_no_full_pass() -> None:
    old = {
        "metadata": {"generation": 2, "resourceVersion": "5", "annotations": {}},
        "spec": {"replicas": 1},
        "status": {"ready": "0/1"},
    }
    echo = {
        "metadata": {"generation": 2, "resourceVersion": "6", "annotations": {}},
        "spec": {"replicas": 1},
        "status": {"ready": "1/1"},
    }
    assert not needs_full_pass(echo, old)
    poked = {**echo, "metadata": {**echo["metadata"], "annotations": {"taskapi.io/paused": "true"}}}
    assert needs_full_pass(poked, old)
    assert needs_full_pass({**echo, "spec": {"replicas": 2}}, old)
    assert needs_full_pass(echo, None)


async def test_secret_checks_remember_forbidden_and_answers_per_interval() -> None:
    calls: list[tuple[str, str]] = []
    now = [0.0]
    forbidden = {"locked"}

    async def exists(namespace: str, name: str) -> bool:
        calls.append((namespace, name))
        if namespace in forbidden:
            raise KubeError(403, "forbidden")
        return name == "present"

    checks = SecretChecks(exists, interval=60, clock=lambda: now[0])
    assert await checks.missing("locked", ["a", "b"]) == []
    assert await checks.missing("locked", ["a", "b"]) == []
    assert calls == [("locked", "a")]  # one 403 per interval and namespace
    assert await checks.missing("open", ["present", "absent"]) == ["absent"]
    assert await checks.missing("open", ["present", "absent"]) == ["absent"]
    assert len(calls) == 3
    now[0] = 61
    forbidden.clear()
    assert await checks.missing("locked", ["a"]) == ["a"]  # granted since: checked again


async def test_secret_checks_raise_transient_errors() -> None:
    async def exists(namespace: str, name: str) -> bool:
        raise KubeError(503, "unavailable")

    with pytest.raises(KubeError):
        await SecretChecks(exists, interval=60).missing("ns", ["a"])


async def test_concurrent_secret_checks_share_one_request() -> None:
    """Passes coming due together (a resync turn, a mass create) ask once per Secret."""
    release = asyncio.Event()
    calls: list[str] = []

    async def exists(namespace: str, name: str) -> bool:
        calls.append(name)
        await release.wait()
        return name == "present"

    checks = SecretChecks(exists, interval=60)
    waiting = [asyncio.create_task(checks.missing("ns", ["present", "absent"])) for _ in range(50)]
    for _ in range(5):
        await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiting) == [["absent"]] * 50
    assert sorted(calls) == ["absent", "present"]
    assert checks.requests == 2


async def test_a_failed_shared_secret_check_fails_every_waiter_and_is_asked_again() -> None:
    answers = [KubeError(503, "unavailable"), True]

    async def exists(namespace: str, name: str) -> bool:
        await asyncio.sleep(0)
        answer = answers.pop(0)
        if isinstance(answer, KubeError):
            raise answer
        return answer

    checks = SecretChecks(exists, interval=60)
    results = await asyncio.gather(
        checks.missing("ns", ["a"]), checks.missing("ns", ["a"]), return_exceptions=True
    )
    assert all(isinstance(r, KubeError) for r in results)
    assert await checks.missing("ns", ["a"]) == []  # not remembered: asked again
