"""The operator's real /metrics, /livez and /readyz: the series exist and move with work."""

from __future__ import annotations

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
