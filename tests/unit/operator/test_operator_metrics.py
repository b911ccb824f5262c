"""Pure parts of the operator's metrics and health answers."""

from __future__ import annotations

from typing import Any

from taskapi_operator import health, metrics
from taskapi_operator.metrics import ready_reasons


def _taskapi(status: str | None, reason: str = "") -> dict[str, Any]:
    if status is None:
        return {"metadata": {}}
    return {
        "status": {
            "conditions": [
                {"type": "Available", "status": "True", "reason": "X"},
                {"type": "Ready", "status": status, "reason": reason},
            ]
        }
    }


def test_ready_reasons() -> None:
    tally = ready_reasons(
        [
            _taskapi("True", "Ready"),
            _taskapi("True", "Ready"),
            _taskapi("False", "PodsNotReady"),
            _taskapi(None),
        ]
    )
    assert tally == {("True", "Ready"): 2, ("False", "PodsNotReady"): 1, ("Unknown", "Pending"): 1}


def test_stuck_only_when_work_waits_without_progress() -> None:
    assert not health.stuck(pending=0, last_progress=0, now=10_000, stuck_after=300)
    assert not health.stuck(pending=3, last_progress=1000, now=1300, stuck_after=300)
    assert health.stuck(pending=3, last_progress=1000, now=1301, stuck_after=300)


def test_ready_is_leader_or_a_standby_that_sees_the_lease() -> None:
    assert health.ready(leading=True, last_round=0, now=100, lease_duration=15)
    assert health.ready(leading=False, last_round=90, now=100, lease_duration=15)
    assert not health.ready(leading=False, last_round=80, now=100, lease_duration=15)
    assert not health.ready(leading=False, last_round=0, now=5, lease_duration=15)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_progress_counts_an_idle_queue_as_progress() -> None:
    clock = Clock()
    progress = health.Progress(clock)
    clock.now += 10_000  # a long quiet spell...
    assert not progress.stuck(pending=0, stuck_after=300)  # ...seen idle by a probe
    clock.now += 5
    assert not progress.stuck(pending=1, stuck_after=300)  # new work: not a stall
    clock.now += 296
    assert progress.stuck(pending=1, stuck_after=300)  # no pass finished since
    progress.passed()
    assert not progress.stuck(pending=1, stuck_after=300)


async def _get(probes: health.Probes, path: str) -> tuple[int, str]:
    from aiohttp.test_utils import TestClient, TestServer

    async with TestClient(TestServer(health.app(probes))) as client:
        resp = await client.get(path)
        return resp.status, await resp.text()


def _probes(clock: Clock, *, pending: int, leading: bool, last_round: float) -> health.Probes:
    registry = metrics.registry()
    metrics.Metrics(registry)
    registry.register(
        metrics.StateCollector(
            list,
            lambda: pending,
            lambda: leading,
            probe_times=list,
            throttled_seconds=lambda: 0.0,
            burst_wait_seconds=lambda: 0.0,
        )
    )
    return health.Probes(
        registry=registry,
        pending=lambda: pending,
        progress=health.Progress(clock),
        stuck_after=300,
        leading=lambda: leading,
        last_round=lambda: last_round,
        lease_duration=15,
        clock=clock,
    )


async def test_livez_fails_only_when_the_loop_is_stuck() -> None:
    clock = Clock()
    probes = _probes(clock, pending=5, leading=True, last_round=clock.now)
    assert await _get(probes, "/livez") == (200, "ok\n")
    clock.now += 301
    status, text = await _get(probes, "/livez")
    assert status == 503
    assert "5 pending" in text


async def test_readyz_for_leader_standby_and_a_replica_cut_off() -> None:
    clock = Clock()
    assert await _get(_probes(clock, pending=0, leading=True, last_round=0), "/readyz") == (
        200,
        "leader\n",
    )
    standby = _probes(clock, pending=0, leading=False, last_round=clock.now - 5)
    assert await _get(standby, "/readyz") == (200, "standby\n")
    cut_off = _probes(clock, pending=0, leading=False, last_round=clock.now - 60)
    assert (await _get(cut_off, "/readyz"))[0] == 503


async def test_metrics_endpoint_serves_the_operator_series() -> None:
    clock = Clock()
    status, text = await _get(_probes(clock, pending=0, leading=True, last_round=0), "/metrics")
    assert status == 200
    assert "taskapi_operator_queue_depth" in text
    assert "taskapi_operator_reconcile_passes_total" in text
    assert "process_resident_memory_bytes" in text  # the benchmark reads it
