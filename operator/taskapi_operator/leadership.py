"""Leader election on a coordination.k8s.io Lease: of all replicas exactly one reconciles.

kopf's peering cannot do this (equal priorities all run; kopf#1266), so every replica runs
kopf and keeps its watch caches warm, and only the holder of the Lease reconciles. The
algorithm is client-go's: expiry is judged by the local time at which this replica last saw
the Lease change (never by comparing another machine's clock), and a leader that cannot
renew within ``renew_deadline`` (< ``lease_duration``) stops working before anyone else may
take over. With kill -9 the Lease is simply not renewed and a standby takes it after
``lease_duration``; a clean shutdown releases it at once.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from taskapi_operator import names

LEASE_API_VERSION = "coordination.k8s.io/v1"


class LeaseConflictError(Exception):
    """Someone else wrote the Lease between our read and our write (HTTP 409)."""


class LeaseApi(Protocol):
    """The three calls the elector needs (implemented by kube.Kube)."""

    async def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    async def create_lease(self, lease: Mapping[str, Any]) -> dict[str, Any]: ...

    async def replace_lease(self, lease: Mapping[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Timings:
    lease_duration: float = 15.0  # a standby waits this long after the last renewal it saw
    renew_deadline: float = 10.0  # the leader steps down when it could not renew for this long
    retry_period: float = 2.0  # how often to try to acquire or renew

    def __post_init__(self) -> None:
        if not self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError("need retry_period < renew_deadline < lease_duration")


class Action(enum.Enum):
    CREATE = "create"  # no Lease yet
    TAKE = "take"  # ours, free or expired: write ourselves in (renew or acquire)
    WAIT = "wait"  # held by a live leader


@dataclass
class Observation:
    """The last Lease content seen and the local monotonic time it was first seen."""

    record: tuple[Any, ...] | None = None
    seen_at: float = 0.0


def holder(lease: Mapping[str, Any] | None) -> str:
    return str(((lease or {}).get("spec") or {}).get("holderIdentity") or "")


def _record(lease: Mapping[str, Any]) -> tuple[Any, ...]:
    spec = lease.get("spec") or {}
    return (spec.get("holderIdentity"), spec.get("renewTime"), spec.get("leaseTransitions"))


def decide(
    lease: Mapping[str, Any] | None,
    identity: str,
    observed: Observation,
    now: float,
    timings: Timings,
) -> Action:
    """What to do with the Lease as just read; updates ``observed`` (pure but for that)."""
    if lease is None:
        return Action.CREATE
    record = _record(lease)
    if record != observed.record:
        observed.record, observed.seen_at = record, now
    current = holder(lease)
    if not current or current == identity:
        return Action.TAKE
    duration = float((lease.get("spec") or {}).get("leaseDurationSeconds") or 0)
    if now - observed.seen_at >= max(duration, timings.lease_duration):
        return Action.TAKE  # not renewed for a whole lease duration as seen here: expired
    return Action.WAIT


def _micro_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def claimed(
    lease: Mapping[str, Any] | None,
    *,
    namespace: str,
    name: str,
    identity: str,
    timings: Timings,
    now: datetime,
) -> dict[str, Any]:
    """The Lease with ``identity`` as its holder, renewed at ``now`` (keeps resourceVersion)."""
    body: dict[str, Any] = {
        "apiVersion": LEASE_API_VERSION,
        "kind": "Lease",
        "metadata": dict((lease or {}).get("metadata") or {"name": name, "namespace": namespace}),
    }
    body["metadata"].setdefault("labels", {})[names.LABEL_MANAGED_BY] = names.MANAGER
    spec = dict((lease or {}).get("spec") or {})
    transitions = int(spec.get("leaseTransitions") or 0)
    if holder(lease) != identity:
        spec["acquireTime"] = _micro_time(now)
        if lease is not None:
            transitions += 1
    spec.update(
        holderIdentity=identity,
        leaseDurationSeconds=max(1, round(timings.lease_duration)),
        renewTime=_micro_time(now),
        leaseTransitions=transitions,
    )
    body["spec"] = spec
    return body


def released(lease: Mapping[str, Any]) -> dict[str, Any]:
    """The Lease given up: no holder, so a standby takes it on its next try."""
    body = {**lease, "spec": {**(lease.get("spec") or {}), "holderIdentity": None}}
    body["spec"]["leaseDurationSeconds"] = 1
    return body


Callback = Callable[[], Awaitable[None]]


class Elector:
    """Runs the election loop; ``on_started``/``on_stopped`` switch the reconciler on and off."""

    def __init__(
        self,
        api: LeaseApi,
        *,
        namespace: str,
        name: str,
        identity: str,
        timings: Timings,
        logger: logging.Logger,
        on_started: Callback,
        on_stopped: Callback,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api = api
        self.namespace, self.name, self.identity = namespace, name, identity
        self._timings = timings
        self._logger = logger
        self._on_started, self._on_stopped = on_started, on_stopped
        self._clock = clock
        self._observed = Observation()
        self._lease: dict[str, Any] | None = None
        self.leading = False
        self.last_renewed = 0.0  # monotonic time of our last successful write
        self.last_round = 0.0  # monotonic time we last read the Lease (the API answers)
        self.transitions = 0

    @property
    def leader(self) -> str:
        return holder(self._lease)

    async def run(self) -> None:
        """Try every retry period, forever; cancelled on shutdown (then releases the Lease)."""
        try:
            while True:
                await self._round()
                await asyncio.sleep(self._timings.retry_period)
        finally:
            await asyncio.shield(self._release())

    async def _round(self) -> None:
        try:
            took = await self._try()
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self._logger.warning(
                "Lease round failed lease=%s/%s err=%s", self.namespace, self.name, e
            )
            took = False
        if took:
            self.last_renewed = self._clock()
            if not self.leading:
                await self._start()
        elif self.leading and (
            self.leader != self.identity
            or self._clock() - self.last_renewed >= self._timings.renew_deadline
        ):
            await self._stop("lost" if self.leader != self.identity else "renew deadline passed")

    async def _try(self) -> bool:
        lease = await self._api.get_lease(self.namespace, self.name)
        self._lease = lease
        self.last_round = self._clock()
        action = decide(lease, self.identity, self._observed, self._clock(), self._timings)
        if action is Action.WAIT:
            return False
        body = claimed(
            lease,
            namespace=self.namespace,
            name=self.name,
            identity=self.identity,
            timings=self._timings,
            now=datetime.now(UTC),
        )
        try:
            if action is Action.CREATE:
                self._lease = await self._api.create_lease(body)
            else:
                self._lease = await self._api.replace_lease(body)
        except LeaseConflictError:
            return False  # someone else won this round
        return True

    async def _start(self) -> None:
        self.leading = True
        self.transitions += 1
        self._logger.info(
            "Became leader lease=%s/%s identity=%s", self.namespace, self.name, self.identity
        )
        await self._on_started()

    async def _stop(self, why: str) -> None:
        self.leading = False
        self._logger.warning(
            "Stopped leading lease=%s/%s identity=%s reason=%s",
            self.namespace,
            self.name,
            self.identity,
            why,
        )
        await self._on_stopped()

    async def _release(self) -> None:
        if not self.leading:
            return
        await self._stop("shutdown")
        if self._lease is None or holder(self._lease) != self.identity:
            return
        try:
            await self._api.replace_lease(released(self._lease))
        except Exception as e:
            self._logger.warning(
                "Lease not released lease=%s/%s err=%s", self.namespace, self.name, e
            )
