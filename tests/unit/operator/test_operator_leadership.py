"""Lease election logic: who may take the Lease when, and that exactly one elector leads.

The elector runs against an in-memory Lease store with the apiserver's optimistic
concurrency (resourceVersion, 409 on a stale write); the real apiserver is exercised by
tests/integration/operator/test_operator_failover.py.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from taskapi_operator.leadership import (
    Action,
    Elector,
    LeaseConflictError,
    Observation,
    Timings,
    claimed,
    decide,
    holder,
    released,
)

T = Timings(lease_duration=15, renew_deadline=10, retry_period=2)
NOW = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def lease(holder_identity: str | None, renew: str = "t1", duration: int = 15) -> dict[str, Any]:
    return {
        "metadata": {"name": "l", "namespace": "ns", "resourceVersion": "7"},
        "spec": {
            "holderIdentity": holder_identity,
            "renewTime": renew,
            "leaseDurationSeconds": duration,
            "leaseTransitions": 0,
        },
    }


def test_no_lease_is_created() -> None:
    assert decide(None, "a", Observation(), 0, T) is Action.CREATE


def test_own_or_free_lease_is_taken() -> None:
    assert decide(lease("a"), "a", Observation(), 0, T) is Action.TAKE
    assert decide(lease(None), "a", Observation(), 0, T) is Action.TAKE
    assert decide(lease(""), "a", Observation(), 0, T) is Action.TAKE


def test_held_lease_expires_by_local_observation_not_by_its_timestamps() -> None:
    seen = Observation()
    # first sight starts the clock, whatever renewTime says (no cross-machine clock compare)
    assert decide(lease("b"), "a", seen, 100, T) is Action.WAIT
    assert decide(lease("b"), "a", seen, 114.9, T) is Action.WAIT
    assert decide(lease("b"), "a", seen, 115, T) is Action.TAKE


def test_renewal_seen_restarts_the_clock() -> None:
    seen = Observation()
    decide(lease("b", renew="t1"), "a", seen, 100, T)
    assert decide(lease("b", renew="t2"), "a", seen, 114, T) is Action.WAIT
    assert decide(lease("b", renew="t2"), "a", seen, 128, T) is Action.WAIT
    assert decide(lease("b", renew="t2"), "a", seen, 129, T) is Action.TAKE


def test_longer_duration_in_the_lease_is_respected() -> None:
    seen = Observation()
    decide(lease("b", duration=60), "a", seen, 0, T)
    assert decide(lease("b", duration=60), "a", seen, 59, T) is Action.WAIT


def test_claim_of_a_new_lease() -> None:
    body = claimed(None, namespace="ns", name="l", identity="a", timings=T, now=NOW)
    assert body["metadata"]["name"] == "l"
    assert body["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "taskapi-operator"}
    assert body["spec"] == {
        "holderIdentity": "a",
        "leaseDurationSeconds": 15,
        "acquireTime": "2026-01-02T03:04:05.678901Z",
        "renewTime": "2026-01-02T03:04:05.678901Z",
        "leaseTransitions": 0,
    }


def test_claim_from_another_holder_counts_a_transition_and_keeps_resource_version() -> None:
    body = claimed(lease("b"), namespace="ns", name="l", identity="a", timings=T, now=NOW)
    assert body["metadata"]["resourceVersion"] == "7"
    assert body["spec"]["leaseTransitions"] == 1
    assert body["spec"]["acquireTime"] == "2026-01-02T03:04:05.678901Z"


def test_renewal_keeps_acquire_time_and_transitions() -> None:
    mine = lease("a")
    mine["spec"]["acquireTime"] = "then"
    body = claimed(mine, namespace="ns", name="l", identity="a", timings=T, now=NOW)
    assert body["spec"]["acquireTime"] == "then"
    assert body["spec"]["leaseTransitions"] == 0


def test_release_frees_the_holder() -> None:
    assert holder(released(lease("a"))) == ""


def test_timings_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="retry_period < renew_deadline < lease_duration"):
        Timings(lease_duration=5, renew_deadline=5, retry_period=1)


class Store:
    """In-memory Lease with the apiserver's resourceVersion check."""

    def __init__(self) -> None:
        self.lease: dict[str, Any] | None = None
        self.version = 0
        self.down = False

    async def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        if self.down:
            raise OSError("apiserver unreachable")
        return copy.deepcopy(self.lease)

    async def create_lease(self, lease: Mapping[str, Any]) -> dict[str, Any]:
        if self.lease is not None:
            raise LeaseConflictError("exists")
        return self._store(lease)

    async def replace_lease(self, lease: Mapping[str, Any]) -> dict[str, Any]:
        if self.down:
            raise OSError("apiserver unreachable")
        if self.lease is None or lease["metadata"].get("resourceVersion") != str(self.version):
            raise LeaseConflictError("stale")
        return self._store(lease)

    def _store(self, lease: Mapping[str, Any]) -> dict[str, Any]:
        self.version += 1
        self.lease = copy.deepcopy(dict(lease))
        self.lease["metadata"]["resourceVersion"] = str(self.version)
        return copy.deepcopy(self.lease)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def elector(store: Store, clock: Clock, identity: str, log: list[str]) -> Elector:
    async def started() -> None:
        log.append(f"{identity} started")

    async def stopped() -> None:
        log.append(f"{identity} stopped")

    return Elector(
        store,
        namespace="ns",
        name="l",
        identity=identity,
        timings=T,
        logger=logging.getLogger("test"),
        on_started=started,
        on_stopped=stopped,
        clock=clock,
    )


async def test_exactly_one_leads_and_the_standby_takes_over_after_expiry() -> None:
    store, clock, log = Store(), Clock(), []
    a, b = elector(store, clock, "a", log), elector(store, clock, "b", log)
    for _ in range(5):  # many rounds, both competing
        await a._round()
        await b._round()
        clock.now += 2
        assert [e.leading for e in (a, b)] == [True, False]
    assert log == ["a started"]
    # a dies (kill -9: no release); b waits one full lease duration from its last sight
    for _ in range(7):
        await b._round()
        clock.now += 2
    assert not b.leading
    await b._round()
    clock.now += 2
    assert b.leading
    assert holder(store.lease) == "b"
    assert store.lease is not None
    assert store.lease["spec"]["leaseTransitions"] == 1
    assert log == ["a started", "b started"]


async def test_leader_that_cannot_renew_steps_down_before_the_lease_expires() -> None:
    store, clock, log = Store(), Clock(), []
    a = elector(store, clock, "a", log)
    await a._round()
    assert a.leading
    store.down = True
    clock.now += 9
    await a._round()
    assert a.leading  # within the renew deadline
    clock.now += 1
    await a._round()
    assert not a.leading  # 10 s < the 15 s a standby waits: never two leaders
    assert log == ["a started", "a stopped"]


async def test_release_lets_the_standby_take_over_at_once() -> None:
    store, clock, log = Store(), Clock(), []
    a, b = elector(store, clock, "a", log), elector(store, clock, "b", log)
    await a._round()
    await b._round()
    await a._release()
    await b._round()
    assert b.leading
    assert log == ["a started", "a stopped", "b started"]
