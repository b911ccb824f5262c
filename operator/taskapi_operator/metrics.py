"""The operator's Prometheus series, in one place: what a platform team alerts and graphs on.

Everything lives in a registry the caller gives (runtime.py: one per process, served by
health.py), nothing is registered at import. Counters are fed by the operator's seams (Kube's
request observer, the work queue's pass observer, the Prober's results); gauges that describe
state (queue depth, TaskApis by Ready reason, leadership) are computed at scrape time by a
StateCollector over callables into the running objects, so they can never drift from what the
process holds. The registry also carries the process collector (RSS, CPU seconds): the
benchmark reads those.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from taskapi_operator import names
from taskapi_operator.status.subscription import PodProbe

PREFIX = "taskapi_operator"
# The reconciler reads through the watch caches: its GETs are by name (Secrets, the Lease).
_VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def registry() -> CollectorRegistry:
    """A registry with the process, platform and GC collectors (as the default one has)."""
    out = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=out)
    PlatformCollector(registry=out)
    GCCollector(registry=out)
    return out


class Metrics:
    """The counters and histograms, registered in ``registry``; their methods are the seams."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.passes = Counter(
            f"{PREFIX}_reconcile_passes",
            "Reconcile passes run, by outcome (ok, transient, error, terminating).",
            ["outcome"],
            registry=registry,
        )
        self.duration = Histogram(
            f"{PREFIX}_reconcile_duration_seconds",
            "Duration of one reconcile pass (applies, reads, sidecar probes, status write).",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=registry,
        )
        self.errors = Counter(
            f"{PREFIX}_reconcile_errors",
            "Failed reconcile passes, by reason: transient (retried with backoff), error (a "
            "bug or an answer the operator cannot act on).",
            ["reason"],
            registry=registry,
        )
        self.probes = Counter(
            f"{PREFIX}_probe_results",
            "Sidecar metadata probes, by result (registered, unregistered, error).",
            ["state"],
            registry=registry,
        )
        self.requests = Counter(
            f"{PREFIX}_api_requests",
            "Kubernetes API requests of the reconciler and the elector (kopf's watches apart), "
            "by verb, resource and HTTP status (0: no answer).",
            ["verb", "resource", "code"],
            registry=registry,
        )

    def count_api_request(self, method: str, resource: str, status: int) -> None:
        """kube.Kube's request observer."""
        self.requests.labels(_VERBS.get(method, method.lower()), resource, str(status)).inc()

    def observe_pass(self, _key: object, seconds: float, outcome: str) -> None:
        """The work queue's pass observer."""
        self.passes.labels(outcome).inc()
        self.duration.observe(seconds)
        if outcome in ("transient", "error"):
            self.errors.labels(outcome).inc()

    def count_probes(self, results: Iterable[PodProbe]) -> None:
        """probe.Prober's result observer."""
        for probe in results:
            state = "error" if probe.error else "registered" if probe.registered else "unregistered"
            self.probes.labels(state).inc()


def ready_reasons(bodies: Iterable[Mapping[str, Any]]) -> Tally[tuple[str, str]]:
    """(Ready status, reason) of each TaskApi; ``Unknown``/``Pending`` before a first status."""
    tally: Tally[tuple[str, str]] = Tally()
    for body in bodies:
        conditions = (body.get("status") or {}).get("conditions") or []
        ready = next((c for c in conditions if c.get("type") == names.COND_READY), None)
        if ready is None:
            tally[("Unknown", "Pending")] += 1
        else:
            tally[(str(ready.get("status", "Unknown")), str(ready.get("reason", "")))] += 1
    return tally


class StateCollector(Collector):
    """Scrape-time gauges over the running objects."""

    def __init__(
        self,
        bodies: Callable[[], Iterable[Mapping[str, Any]]],
        queue_depth: Callable[[], int],
        leading: Callable[[], bool],
        *,
        probe_times: Callable[[], Iterable[float | None]],
        throttled_seconds: Callable[[], float],
        burst_wait_seconds: Callable[[], float],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._bodies = bodies
        self._queue_depth = queue_depth
        self._leading = leading
        self._probe_times = probe_times
        self._throttled_seconds = throttled_seconds
        self._burst_wait_seconds = burst_wait_seconds
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            f"{PREFIX}_queue_depth", "TaskApis with a reconcile pass pending or running."
        )
        depth.add_metric([], self._queue_depth())
        yield depth
        leader = GaugeMetricFamily(
            f"{PREFIX}_leader", "1 while this replica holds the Lease and reconciles."
        )
        leader.add_metric([], 1.0 if self._leading() else 0.0)
        yield leader
        taskapis = GaugeMetricFamily(
            f"{PREFIX}_taskapis",
            "TaskApis this replica knows, by Ready status and reason.",
            labels=["ready", "reason"],
        )
        for (ready, reason), count in sorted(ready_reasons(self._bodies()).items()):
            taskapis.add_metric([ready, reason], count)
        yield taskapis
        # Status keeps no probe heartbeat (a steady state writes nothing): this says how
        # current the subscription findings are. Alert when it exceeds a few resync intervals.
        times = [t for t in self._probe_times() if t is not None]
        age = GaugeMetricFamily(
            f"{PREFIX}_probe_age_seconds",
            "Seconds since the sidecars of the least recently probed TaskApi were probed "
            "(TaskApis with ready pods; 0 when there are none).",
        )
        age.add_metric([], max(0.0, self._clock() - min(times)) if times else 0.0)
        yield age
        throttled = CounterMetricFamily(
            f"{PREFIX}_api_throttled_seconds",
            "Seconds API requests waited for the client-side rate limit (API_QPS, API_BURST).",
        )
        throttled.add_metric([], self._throttled_seconds())
        yield throttled
        waited = CounterMetricFamily(
            f"{PREFIX}_burst_wait_seconds",
            "Seconds new TaskApis' first passes waited for a burst of arrivals to end "
            "(ARRIVAL_BURST, ARRIVAL_WINDOW_SECONDS, ARRIVAL_MAX_WAIT_SECONDS).",
        )
        waited.add_metric([], self._burst_wait_seconds())
        yield waited
