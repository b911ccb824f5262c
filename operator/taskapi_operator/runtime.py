"""The running operator, built from its settings by constructor: the one place that knows how
the rooms connect. kopf's startup handler starts it, its cleanup handler stops it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import kopf

from taskapi_operator import health, metrics, replica
from taskapi_operator.apiclient import ApiClient
from taskapi_operator.apply import Applier
from taskapi_operator.arrivals import Arrivals
from taskapi_operator.cache import Caches
from taskapi_operator.entries import Entries, Key
from taskapi_operator.events import EventRecorder
from taskapi_operator.kube import Kube
from taskapi_operator.probe import Prober
from taskapi_operator.publish import StatusPublisher
from taskapi_operator.ratelimit import TokenBucket
from taskapi_operator.reconcile import Reconciler, status_policy
from taskapi_operator.schedule import Schedule
from taskapi_operator.secret_checks import SecretChecks
from taskapi_operator.settings import OperatorSettings
from taskapi_operator.triggers import SpecChanges
from taskapi_operator.workqueue import WorkQueue


def _wall() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    kube: Kube
    entries: Entries
    queue: WorkQueue
    reconciler: Reconciler
    spec_changes: SpecChanges  # which child events need a full pass
    prober: Prober
    replica: replica.Replica
    resync: asyncio.Task[None]

    async def stop(self) -> None:
        await self.replica.stop()  # first: stop leading and release the Lease
        self.resync.cancel()
        await asyncio.gather(self.resync, return_exceptions=True)
        await self.queue.deactivate()
        await self.prober.close()
        await self.kube.close()


async def start(
    kopf_settings: kopf.OperatorSettings,
    indices: Mapping[str, Mapping[Any, Iterable[Any]]],
    settings: OperatorSettings,
    logger: logging.Logger,
) -> Runtime:
    registry = metrics.registry()
    series = metrics.Metrics(registry)
    client = ApiClient(kopf_settings, logger, connections=settings.api_connections)
    kube = Kube(
        client,
        settings.field_manager,
        limiter=TokenBucket(settings.api_qps, settings.api_burst),
        event_limiter=TokenBucket(settings.api_qps, settings.api_burst),
        observer=series.count_api_request,
    )
    schedule = Schedule(
        settings.resync_interval_seconds,
        settings.resync_jitter,
        settings.retry_base_seconds,
        settings.retry_max_seconds,
    )
    entries = Entries(lambda: schedule.first(time.monotonic()))
    caches = Caches(indices)
    spec_changes = SpecChanges()
    prober = Prober(settings, on_results=series.count_probes)
    events = EventRecorder(kube.post_event, settings.event_repeat_seconds, logger, _wall)
    publisher = StatusPublisher(
        kube.patch_status,
        events,
        logger,
        hold_seconds=settings.ready_hold_seconds,
        confirm_seconds=settings.probe_confirm_seconds,
        progress_seconds=settings.status_progress_seconds,
    )
    reconciler = Reconciler(
        entries=entries,
        caches=caches,
        applier=Applier(kube, caches, spec_changes),
        prober=prober,
        secrets=SecretChecks(kube.secret_exists, settings.secret_check_seconds),
        publisher=publisher,
        events=events,
        policy=status_policy(settings),
        logger=logger,
        clock=_wall,
    )
    progress = health.Progress()

    def on_pass(key: Key, seconds: float, outcome: str) -> None:
        progress.passed()
        series.observe_pass(key, seconds, outcome)

    arrivals = Arrivals(
        burst=settings.arrival_burst,
        window=settings.arrival_window_seconds,
        max_wait=settings.arrival_max_wait_seconds,
    )
    queue = WorkQueue(
        entries,
        reconciler.reconcile,
        schedule,
        arrivals,
        concurrency=settings.max_concurrent_passes,
        on_pass=on_pass,
        logger=logger,
        active=not settings.leader_election,  # else the elector switches it on
    )
    registry.register(
        metrics.StateCollector(
            entries.bodies,
            queue.pending,
            lambda: queue.active,
            probe_times=entries.probe_times,
            throttled_seconds=lambda: kube.throttled_seconds,
            burst_wait_seconds=lambda: arrivals.waited_seconds,
        )
    )
    running = await replica.start(
        queue, kube, settings, logger, registry=registry, progress=progress
    )
    resync = asyncio.create_task(queue.resync_forever())
    return Runtime(kube, entries, queue, reconciler, spec_changes, prober, running, resync)
