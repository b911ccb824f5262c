"""What each replica runs beside kopf: the leader election and the metrics/health port.

Without leader election (one replica, or tests) the work queue is simply always active; with
it, the elector switches the queue on and off.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry

from taskapi_operator import health
from taskapi_operator.leadership import Elector, LeaseApi, Timings
from taskapi_operator.settings import OperatorSettings
from taskapi_operator.workqueue import WorkQueue


@dataclass
class Replica:
    elector: Elector | None
    election: asyncio.Task[None] | None
    server: web.AppRunner | None

    async def stop(self) -> None:
        if self.election is not None:
            self.election.cancel()  # releases the Lease if we hold it
            await asyncio.gather(self.election, return_exceptions=True)
        if self.server is not None:
            await self.server.cleanup()


def identity(settings: OperatorSettings) -> str:
    return settings.identity or f"{socket.gethostname()}_{os.getpid()}"


def _elector(
    queue: WorkQueue, leases: LeaseApi, settings: OperatorSettings, logger: logging.Logger
) -> Elector:
    timings = Timings(
        lease_duration=settings.lease_duration_seconds,
        renew_deadline=settings.lease_renew_deadline_seconds,
        retry_period=settings.lease_retry_period_seconds,
    )
    return Elector(
        leases,
        namespace=settings.lease_namespace,
        name=settings.lease_name,
        identity=identity(settings),
        timings=timings,
        logger=logger,
        on_started=queue.activate,  # reconcile everything the warm caches know
        on_stopped=queue.deactivate,  # passes in flight end now; a standby starts none
    )


async def start(
    queue: WorkQueue,
    leases: LeaseApi,
    settings: OperatorSettings,
    logger: logging.Logger,
    *,
    registry: CollectorRegistry,
    progress: health.Progress,
) -> Replica:
    elector = _elector(queue, leases, settings, logger) if settings.leader_election else None
    replica = Replica(elector, None, None)
    if settings.metrics_port:
        probes = health.Probes(
            registry=registry,
            pending=queue.pending,
            progress=progress,
            stuck_after=settings.liveness_stuck_seconds,
            leading=lambda: queue.active,
            last_round=lambda: elector.last_round if elector else 1.0,
            lease_duration=settings.lease_duration_seconds,
        )
        replica.server = await health.serve(probes, settings.metrics_host, settings.metrics_port)
    if elector is not None:
        replica.election = asyncio.create_task(elector.run())
    return replica
