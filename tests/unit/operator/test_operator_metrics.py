"""Pure parts of the operator's metrics and health answers."""

from __future__ import annotations

from typing import Any

import pytest

from taskapi_operator import health
from taskapi_operator.metrics import ready_reasons, verb_and_resource


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/api/v1/namespaces/ns/pods", ("list", "pods")),
        ("GET", "/api/v1/namespaces/ns/secrets/redis", ("get", "secrets")),
        ("GET", "/apis/apps/v1/namespaces/ns/deployments/d", ("get", "deployments")),
        ("PATCH", "/apis/taskapi.io/v1alpha1/namespaces/ns/taskapis/t/status",
         ("patch", "taskapis/status")),
        ("POST", "/api/v1/namespaces/ns/events", ("create", "events")),
        ("PUT", "/apis/coordination.k8s.io/v1/namespaces/ns/leases/l", ("update", "leases")),
        ("GET", "/version", ("get", "other")),
    ],
)
def test_verb_and_resource(method: str, path: str, expected: tuple[str, str]) -> None:
    assert verb_and_resource(method, path) == expected


def _taskapi(status: str | None, reason: str = "") -> dict[str, Any]:
    if status is None:
        return {"metadata": {}}
    return {"status": {"conditions": [
        {"type": "Available", "status": "True", "reason": "X"},
        {"type": "Ready", "status": status, "reason": reason},
    ]}}


def test_ready_reasons() -> None:
    tally = ready_reasons([
        _taskapi("True", "Ready"), _taskapi("True", "Ready"),
        _taskapi("False", "PodsNotReady"), _taskapi(None),
    ])
    assert tally == {("True", "Ready"): 2, ("False", "PodsNotReady"): 1, ("Unknown", "Pending"): 1}


def test_stuck_only_when_work_waits_without_progress() -> None:
    assert not health.stuck(pending=0, last_progress=0, now=10_000, stuck_after=300)
    assert not health.stuck(pending=3, last_progress=1000, now=1300, stuck_after=300)
    assert health.stuck(pending=3, last_progress=1000, now=1301, stuck_after=300)


def test_ready_is_leader_or_a_standby_that_sees_the_lease() -> None:
    assert health.ready(leading=True, last_round=0, now=100, lease_duration=15)
    assert health.ready(leading=False, last_round=90, now=100, lease_duration=15)
    assert not health.ready(leading=False, last_round=80, now=100, lease_duration=15)
    assert not health.ready(leading=False, last_round=0, now=5, lease_duration=15)
