"""The operator's Prometheus series, in one place: what a platform team alerts and graphs on.

Counters are bumped by small hooks in reconcile.py and kube.py; gauges that describe state
(queue depth, TaskApis by Ready reason, leadership) are computed at scrape time from the
running reconciler and elector, so they can never drift from what the process holds.
The default registry also carries the process collector (RSS, CPU seconds): the benchmark
reads those.
"""

from __future__ import annotations

import re
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from taskapi_operator import names

PREFIX = "taskapi_operator"

RECONCILE_PASSES = Counter(
    f"{PREFIX}_reconcile_passes", "Reconcile passes run, by kind (full or status).", ["kind"]
)
RECONCILE_DURATION = Histogram(
    f"{PREFIX}_reconcile_duration_seconds",
    "Duration of one reconcile pass (applies, reads, sidecar probes, status write).",
    ["kind"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
RECONCILE_ERRORS = Counter(
    f"{PREFIX}_reconcile_errors", "Failed reconcile passes, by reason.", ["reason"]
)
PROBE_RESULTS = Counter(
    f"{PREFIX}_probe_results",
    "Sidecar metadata probes, by result (registered, unregistered, error).",
    ["state"],
)
API_REQUESTS = Counter(
    f"{PREFIX}_api_requests",
    "Kubernetes API requests the reconciler and the elector made, by verb and resource.",
    ["verb", "resource"],
)

_PATH = re.compile(
    r"^/(?:api/v1|apis/[^/]+/[^/]+)(?:/namespaces/[^/]+)?/(?P<plural>[^/]+)(?P<name>/[^/]+)?"
    r"(?P<sub>/[^/]+)?$"
)
_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def verb_and_resource(method: str, path: str) -> tuple[str, str]:
    """Kubernetes' own verb names for a REST call: GET is ``get`` or ``list``."""
    found = _PATH.match(path.split("?", 1)[0])
    if found is None:
        return (method.lower(), "other")
    resource = found["plural"] + (found["sub"] or "")  # e.g. taskapis/status
    if method == "GET":
        return ("get" if found["name"] else "list", resource)
    return (_VERBS.get(method, method.lower()), resource)


def count_api_request(method: str, path: str) -> None:
    API_REQUESTS.labels(*verb_and_resource(method, path)).inc()


def observe_pass(full: bool, seconds: float) -> None:
    kind = "full" if full else "status"
    RECONCILE_PASSES.labels(kind).inc()
    RECONCILE_DURATION.labels(kind).observe(seconds)


def count_error(reason: str) -> None:
    RECONCILE_ERRORS.labels(reason).inc()


def count_probes(results: Iterable[Any]) -> None:
    """``results`` are status.PodProbe: ``error`` set, else ``registered`` true or false."""
    for probe in results:
        state = "error" if probe.error else "registered" if probe.registered else "unregistered"
        PROBE_RESULTS.labels(state).inc()


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
