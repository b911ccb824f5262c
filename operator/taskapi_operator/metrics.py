"""The operator's Prometheus series, in one place: what a platform team alerts and graphs on.

Counters are fed by the operator's seams (Kube's request observer, the Reconciler's
``on_pass`` and its Prober); gauges that describe state
(queue depth, TaskApis by Ready reason, leadership) are computed at scrape time from the
running reconciler and elector, so they can never drift from what the process holds.
The default registry also carries the process collector (RSS, CPU seconds): the benchmark
reads those.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from taskapi_operator import names
from taskapi_operator.probe import Prober
from taskapi_operator.status.subscription import PodProbe

PREFIX = "taskapi_operator"

RECONCILE_PASSES = Counter(
    f"{PREFIX}_reconcile_passes",
    "Reconcile passes run, by outcome (ok, transient, error, terminating).",
    ["outcome"],
)
RECONCILE_DURATION = Histogram(
    f"{PREFIX}_reconcile_duration_seconds",
    "Duration of one reconcile pass (applies, reads, sidecar probes, status write).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
RECONCILE_ERRORS = Counter(
    f"{PREFIX}_reconcile_errors",
    "Failed reconcile passes, by reason: transient (retried with backoff), error (a bug or "
    "an answer the operator cannot act on).",
    ["reason"],
)
PROBE_RESULTS = Counter(
    f"{PREFIX}_probe_results",
    "Sidecar metadata probes, by result (registered, unregistered, error).",
    ["state"],
)
API_REQUESTS = Counter(
    f"{PREFIX}_api_requests",
    "Kubernetes API requests of the reconciler and the elector (kopf's watches apart), by "
    "verb, resource and HTTP status (0: no answer).",
    ["verb", "resource", "code"],
)
# The reconciler reads through the watch caches: its GETs are by name (Secrets, the Lease).
_VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def count_api_request(method: str, resource: str, status: int) -> None:
    """kube.Kube's request observer."""
    API_REQUESTS.labels(_VERBS.get(method, method.lower()), resource, str(status)).inc()


def observe_pass(_key: object, seconds: float, outcome: str) -> None:
    """The Reconciler's ``on_pass`` seam."""
    RECONCILE_PASSES.labels(outcome).inc()
    RECONCILE_DURATION.observe(seconds)
    if outcome in ("transient", "error"):
        RECONCILE_ERRORS.labels(outcome).inc()


def count_probes(results: Iterable[PodProbe]) -> None:
    for probe in results:
        state = "error" if probe.error else "registered" if probe.registered else "unregistered"
        PROBE_RESULTS.labels(state).inc()


class CountingProber(Prober):
    """The operator's Prober, counting each result by state."""

    async def probe(
        self, pods: Iterable[tuple[str, str]], pubsub: str, topic: str
    ) -> list[PodProbe]:
        results = await super().probe(pods, pubsub, topic)
        count_probes(results)
        return results


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


@dataclass
class State:
    """Where the scrape-time gauges read from; set once the reconciler/elector exist."""

    bodies: Callable[[], Iterable[Mapping[str, Any]]] = lambda: ()
    queue_depth: Callable[[], int] = lambda: 0
    leading: Callable[[], bool] = lambda: False


STATE = State()


class _StateCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            f"{PREFIX}_queue_depth", "TaskApis with a reconcile pass pending or running."
        )
        depth.add_metric([], STATE.queue_depth())
        yield depth
        leader = GaugeMetricFamily(
            f"{PREFIX}_leader", "1 while this replica holds the Lease and reconciles."
        )
        leader.add_metric([], 1.0 if STATE.leading() else 0.0)
        yield leader
        taskapis = GaugeMetricFamily(
            f"{PREFIX}_taskapis",
            "TaskApis this replica knows, by Ready status and reason.",
            labels=["ready", "reason"],
        )
        for (ready, reason), count in sorted(ready_reasons(STATE.bodies()).items()):
            taskapis.add_metric([ready, reason], count)
        yield taskapis


REGISTRY.register(_StateCollector())
