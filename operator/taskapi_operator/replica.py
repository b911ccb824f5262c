"""What each replica runs beside kopf: the leader election and the metrics/health port.

Started from the kopf startup handler and stopped from its cleanup handler. Without leader
election (one replica, or tests) the reconciler is simply always active.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from dataclasses import dataclass

from aiohttp import web

from taskapi_operator import health, metrics
from taskapi_operator.kube import Kube
from taskapi_operator.leadership import Elector, Timings
from taskapi_operator.reconcile import Reconciler
from taskapi_operator.settings import OperatorSettings


@dataclass
class Replica:
    elector: Elector | None
    election: asyncio.Task[None] | None
    server: web.AppRunner | None

    @property
    def leading(self) -> bool:
        return self.elector is None or self.elector.leading

    async def stop(self) -> None:
        if self.election is not None:
            self.election.cancel()  # releases the Lease if we hold it
            await asyncio.gather(self.election, return_exceptions=True)
        if self.server is not None:
            await self.server.cleanup()


def identity(settings: OperatorSettings) -> str:
    return settings.identity or f"{socket.gethostname()}_{os.getpid()}"


async def start(
    reconciler: Reconciler, kube: Kube, settings: OperatorSettings, logger: logging.Logger
) -> Replica:
    elector = None
    if settings.leader_election:
        timings = Timings(
            lease_duration=settings.lease_duration_seconds,
            renew_deadline=settings.lease_renew_deadline_seconds,
            retry_period=settings.lease_retry_period_seconds,
        )

        async def started() -> None:  # reconcile everything the warm caches know
            for key in reconciler.known():
                reconciler.kick(key, full=True)

        elector = Elector(
            kube,
            namespace=settings.lease_namespace,
            name=settings.lease_name,
            identity=identity(settings),
            timings=timings,
            logger=logger,
            on_started=started,
            on_stopped=reconciler.stop,  # passes in flight end now; the gate holds the rest
        )
    replica = Replica(elector, None, None)
    reconciler.gate = lambda: replica.leading  # a standby schedules no pass at all
    progress = health.Progress()

    def on_pass(key: object, seconds: float, outcome: str) -> None:
        progress.passed()
        metrics.observe_pass(key, seconds, outcome)

    reconciler.on_pass = on_pass
    metrics.STATE.bodies = reconciler.bodies
    metrics.STATE.queue_depth = reconciler.pending
    metrics.STATE.leading = lambda: replica.leading
    if settings.metrics_port:
        probes = health.Probes(
            pending=reconciler.pending,
            progress=progress,
            stuck_after=settings.liveness_stuck_seconds,
            leading=lambda: replica.leading,
            last_round=lambda: elector.last_round if elector else 1.0,
            lease_duration=settings.lease_duration_seconds,
        )
        replica.server = await health.serve(probes, settings.metrics_host, settings.metrics_port)
    if elector is not None:
        replica.election = asyncio.create_task(elector.run())
    return replica
