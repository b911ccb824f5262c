"""The operator's real /metrics, /livez and /readyz: the series exist and move with work."""

from __future__ import annotations

import concurrent.futures

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from harness.kube import Cluster
from harness.operator_stack import RunningOperator, apply, sample, wait_for

pytestmark = pytest.mark.integration


def scrape(operator: RunningOperator) -> list[Sample]:
    status, text = operator.get("/metrics")
    assert status == 200
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def total(samples: list[Sample], name: str, **labels: str) -> float:
    """Sum of the samples named ``name`` whose labels include ``labels``."""
    return sum(s.value for s in samples if s.name == name and labels.items() <= s.labels.items())


def test_metrics_exist_and_move(
    cluster: Cluster, namespace: str, taskapi_operator: RunningOperator
) -> None:
    operator = taskapi_operator
    before = scrape(operator)
    names = {s.name for s in before}
    for series in (
        "taskapi_operator_queue_depth",
        "taskapi_operator_leader",
        "taskapi_operator_probe_age_seconds",  # status keeps no probe heartbeat: this does
        "taskapi_operator_api_throttled_seconds_total",  # the client-side rate limit
        "taskapi_operator_burst_wait_seconds_total",  # first passes giving way to a burst
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
    ):
        assert series in names, series
    assert total(before, "taskapi_operator_leader") == 1
    apply(cluster, namespace, sample())

    moving: list[tuple[str, dict[str, str]]] = [
        ("taskapi_operator_reconcile_passes_total", {"outcome": "ok"}),
        ("taskapi_operator_reconcile_duration_seconds_count", {}),
        # server-side apply of the Deployment, merge patch of the status (reads are cached)
        ("taskapi_operator_api_requests_total", {"verb": "patch", "resource": "deployments"}),
        ("taskapi_operator_api_requests_total", {"verb": "patch", "resource": "taskapis"}),
    ]

    def moved() -> list[Sample] | None:
        now = scrape(operator)
        grew = all(
            total(now, name, **labels) > total(before, name, **labels) for name, labels in moving
        )
        return now if grew else None

    after = wait_for(moved, 60, "reconcile and API request series grow", operator)
    # pods without a daprd sidecar here: Ready is False, and the TaskApi counted under its reason
    assert total(after, "taskapi_operator_taskapis", ready="False") >= 1
    assert total(after, "taskapi_operator_reconcile_errors_total") == total(
        before, "taskapi_operator_reconcile_errors_total"
    )
    assert operator.get("/livez") == (200, "ok\n")
    assert operator.get("/readyz") == (200, "leader\n")


def test_a_burst_of_new_taskapis_waits_for_its_end_then_is_reconciled(
    cluster: Cluster, namespace: str, taskapi_operator: RunningOperator
) -> None:
    """30 TaskApis created at once (concurrent POSTs: well within the 10-in-5-s burst on any
    machine) are first passed only once the arrivals calm down (arrivals.py), then all are."""
    operator = taskapi_operator
    waited = "taskapi_operator_burst_wait_seconds_total"
    before = total(scrape(operator), waited)
    path = f"/apis/taskapi.io/v1alpha1/namespaces/{namespace}/taskapis"
    bodies = [sample(f"burst-{i:02d}") for i in range(30)]
    with concurrent.futures.ThreadPoolExecutor(len(bodies)) as pool:
        list(pool.map(lambda body: cluster.request("POST", path, body), bodies))

    def all_reconciled() -> bool | None:
        listed = cluster.request("GET", path)["items"]
        done = [t for t in listed if (t.get("status") or {}).get("observedGeneration")]
        return True if len(done) == len(bodies) else None

    wait_for(all_reconciled, 120, "every TaskApi of the burst reconciled", operator)
    assert total(scrape(operator), waited) > before  # their first passes did wait
