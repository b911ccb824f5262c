"""The pure status function: counts, reasons users can act on, stable transition times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from operator_fixtures import POLICY, sample_body

from taskapi_operator import names
from taskapi_operator.compare import matches
from taskapi_operator.model import TaskApi
from taskapi_operator.status import (
    Cond,
    Observed,
    PodProbe,
    compute_status,
    invalid_spec_status,
    merge_patch,
)

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def pod(
    name: str,
    *,
    containers: tuple[str, ...] = ("taskapi", "daprd"),
    ready: tuple[str, ...] | None = None,
    ip: str = "127.1.0.9",
) -> dict[str, Any]:
    ready = containers if ready is None else ready
    all_ready = set(ready) == set(containers)
    return {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": c} for c in containers]},
        "status": {
            "phase": "Running",
            "podIP": ip,
            "conditions": [{"type": "Ready", "status": "True" if all_ready else "False"}],
            "containerStatuses": [{"name": c, "ready": c in ready} for c in containers],
        },
    }


def deployment(ready: int, replicas: int = 2) -> dict[str, Any]:
    available = "True" if ready else "False"
    return {
        "status": {
            "replicas": replicas,
            "readyReplicas": ready,
            "updatedReplicas": replicas,
            "availableReplicas": ready,
            "conditions": [
                {
                    "type": "Available",
                    "status": available,
                    "reason": "MinimumReplicasAvailable",
                    "message": "Deployment has minimum availability.",
                }
            ],
        }
    }


def cond(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == kind)


TASKAPI = TaskApi.from_body(sample_body())  # replicas: 2


def test_all_ready_gives_2_of_2_and_ready_true() -> None:
    observed = Observed(
        deployment=deployment(2),
        pods=[pod("a"), pod("b")],
        probes=[PodProbe("a", registered=True), PodProbe("b", registered=True)],
    )
    status = compute_status(TASKAPI, observed, {}, T0, POLICY)
    assert (status["ready"], status["sidecars"]) == ("2/2", "2/2")
    assert status["pods"] == [
        {"name": "a", "phase": "Running", "ready": "2/2", "sidecar": "Ready"},
        {"name": "b", "phase": "Running", "ready": "2/2", "sidecar": "Ready"},
    ]
    assert status["subscription"]["state"] == "Healthy"
    assert status["subscription"]["registered"] == 2
    assert cond(status, "Ready")["status"] == "True"
    assert cond(status, "Ready")["observedGeneration"] == 3
    assert status["observedGeneration"] == 3


def test_daprd_not_ready_shows_in_sidecars_and_ready_reason() -> None:
    observed = Observed(deployment=deployment(1), pods=[pod("a"), pod("b", ready=("taskapi",))])
    status = compute_status(TASKAPI, observed, {}, T0, POLICY)
    assert status["sidecars"] == "1/2"
    ready = cond(status, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "SidecarNotReady")
    assert "b" in ready["message"]


def crash_looping(name: str, container: str, *, exit_code: int = 1) -> dict[str, Any]:
    """A pod whose ``container`` the kubelet keeps restarting (the other one ready or not)."""
    body = pod(name, ready=())
    for status in body["status"]["containerStatuses"]:
        if status["name"] == container:
            status["restartCount"] = 4
            status["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}}
            status["lastState"] = {"terminated": {"exitCode": exit_code, "reason": "Error"}}
    return body


def test_a_crash_looping_app_is_named_with_where_to_look() -> None:
    """daprd is not ready either (it waits for its app), but the app is the one to look at."""
    observed = Observed(deployment=deployment(1), pods=[pod("a"), crash_looping("b", "taskapi")])
    ready = cond(compute_status(TASKAPI, observed, {}, T0, POLICY), "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "PodsNotReady")
    assert ready["message"] == (
        "1/2 pods ready; pod b container taskapi: CrashLoopBackOff, last exit code 1, "
        "4 restarts (see `kubectl logs b -c taskapi --previous`)"
    )


def test_a_crash_looping_daprd_is_the_sidecars_fault() -> None:
    observed = Observed(deployment=deployment(1), pods=[pod("a"), crash_looping("b", "daprd")])
    ready = cond(compute_status(TASKAPI, observed, {}, T0, POLICY), "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "SidecarNotReady")
    assert "pod b container daprd: CrashLoopBackOff" in ready["message"]


def test_an_image_that_cannot_be_pulled_points_at_the_pods_events() -> None:
    stuck = pod("b", ready=())
    stuck["status"]["containerStatuses"][0]["state"] = {"waiting": {"reason": "ImagePullBackOff"}}
    observed = Observed(deployment=deployment(1), pods=[pod("a"), stuck])
    ready = cond(compute_status(TASKAPI, observed, {}, T0, POLICY), "Ready")
    assert ready["reason"] == "PodsNotReady"
    assert ready["message"].endswith(
        "pod b container taskapi: ImagePullBackOff (see `kubectl describe pod b`)"
    )


def test_missing_sidecar_says_dapr_is_not_installed() -> None:
    observed = Observed(deployment=deployment(2), pods=[pod("a", containers=("taskapi",))])
    status = compute_status(TASKAPI, observed, {}, T0, POLICY)
    assert cond(status, "SidecarsReady")["reason"] == "SidecarNotInjected"
    assert "is Dapr installed in this cluster" in cond(status, "Ready")["message"]


def test_missing_secret_is_reported_by_name() -> None:
    observed = Observed(
        deployment=deployment(2), pods=[pod("a"), pod("b")], missing_secrets=["redis"]
    )
    ready = cond(compute_status(TASKAPI, observed, {}, T0, POLICY), "Ready")
    assert ready["reason"] == "SecretNotFound"
    assert "redis" in ready["message"]


def test_subscription_missing_is_unhealthy_and_blocks_ready() -> None:
    observed = Observed(
        deployment=deployment(2),
        pods=[pod("a"), pod("b")],
        probes=[PodProbe("a", registered=True), PodProbe("b")],
    )
    status = compute_status(TASKAPI, observed, {}, T0, POLICY)
    assert status["subscription"]["state"] == "Unhealthy"
    assert cond(status, "Ready")["reason"] == "SubscriptionNotRegistered"


def test_unanswered_probes_are_unknown_and_do_not_block_ready() -> None:
    observed = Observed(
        deployment=deployment(2),
        pods=[pod("a"), pod("b")],
        probes=[PodProbe("a", error="refused"), PodProbe("b", error="refused")],
    )
    status = compute_status(TASKAPI, observed, {}, T0, POLICY)
    assert status["subscription"]["state"] == "Unknown"
    assert cond(status, "SubscriptionHealthy")["status"] == "Unknown"
    assert cond(status, "Ready")["status"] == "True"


def test_one_failed_probe_beside_registered_ones_is_unknown_not_unhealthy() -> None:
    # a timeout proves nothing about the subscription: no Ready flap on a slow sidecar
    observed = Observed(
        deployment=deployment(2),
        pods=[pod("a"), pod("b")],
        probes=[PodProbe("a", registered=True), PodProbe("b", error="timeout")],
    )
    status = compute_status(TASKAPI, observed, {}, T0, POLICY)
    assert status["subscription"]["state"] == "Unknown"
    assert "probe failed for b" in status["subscription"]["message"]
    assert cond(status, "Ready")["status"] == "True"


def test_missing_subscription_wins_over_a_failed_probe() -> None:
    observed = Observed(
        deployment=deployment(2),
        pods=[pod("a"), pod("b"), pod("c")],
        probes=[PodProbe("a", registered=True), PodProbe("b"), PodProbe("c", error="timeout")],
    )
    status = compute_status(TASKAPI, observed, {}, T0, POLICY)
    assert status["subscription"]["state"] == "Unhealthy"
    assert cond(status, "Ready")["reason"] == "SubscriptionNotRegistered"


def test_unchanged_status_keeps_times_so_steady_state_writes_nothing() -> None:
    observed = Observed(
        deployment=deployment(2),
        pods=[pod("a"), pod("b")],
        probes=[PodProbe("a", registered=True), PodProbe("b", registered=True)],
    )
    first = compute_status(TASKAPI, observed, {}, T0, POLICY)
    later = compute_status(TASKAPI, observed, first, T0 + timedelta(seconds=60), POLICY)
    assert merge_patch(first, later) == {}
    # No heartbeat: hours later an unchanged finding still writes nothing (the probes'
    # freshness is a metric, taskapi_operator_probe_age_seconds).
    much_later = compute_status(TASKAPI, observed, first, T0 + timedelta(hours=5), POLICY)
    assert merge_patch(first, much_later) == {}


def test_transition_time_moves_only_when_status_changes() -> None:
    good = Observed(deployment=deployment(2), pods=[pod("a"), pod("b")])
    bad = Observed(deployment=deployment(1), pods=[pod("a"), pod("b", ready=("taskapi",))])
    first = compute_status(TASKAPI, good, {}, T0, POLICY)
    second = compute_status(TASKAPI, bad, first, T0 + timedelta(minutes=1), POLICY)
    assert cond(second, "Ready")["lastTransitionTime"] == "2026-01-01T12:01:00Z"
    assert cond(second, "ComponentsReady")["lastTransitionTime"] == "2026-01-01T12:00:00Z"


def test_paused_is_the_ready_reason() -> None:
    paused = TaskApi.from_body(sample_body(annotations={"taskapi.io/paused": "true"}))
    status = compute_status(paused, Observed(deployment=deployment(2)), {}, T0, POLICY)
    assert cond(status, "Ready")["reason"] == "Paused"


def test_merge_patch_removes_keys() -> None:
    assert merge_patch({"a": 1, "b": {"c": 1, "d": 2}}, {"b": {"c": 1}}) == {
        "a": None,
        "b": {"d": None},
    }


def test_matches_ignores_server_defaults_and_canonical_quantities() -> None:
    desired = {"spec": {"containers": [{"name": "x", "resources": {"limits": {"cpu": "1000m"}}}]}}
    live = {
        "spec": {
            "containers": [
                {
                    "name": "x",
                    "terminationMessagePath": "/dev/t",
                    "resources": {"limits": {"cpu": "1"}},
                }
            ]
        }
    }
    assert matches(desired, live)
    live["spec"]["containers"][0]["name"] = "y"
    assert not matches(desired, live)


def test_invalid_spec_keeps_other_conditions_and_says_why() -> None:
    first = compute_status(TASKAPI, Observed(deployment=deployment(2)), {}, T0, POLICY)
    status = invalid_spec_status(first, 4, "spec.port: too big", T0 + timedelta(minutes=1))
    ready = cond(status, "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False",
        "InvalidSpec",
        "spec.port: too big",
    )
    assert status["observedGeneration"] == 4
    assert cond(status, "SidecarsReady") == cond(first, "SidecarsReady")


def test_stalled_rollout_is_progress_deadline_exceeded() -> None:
    stalled = deployment(1)
    stalled["status"]["conditions"].append(
        {
            "type": "Progressing",
            "status": "False",
            "reason": "ProgressDeadlineExceeded",
            "message": 'ReplicaSet "taskapi-sample-5d4" has timed out progressing.',
        }
    )
    observed = Observed(deployment=stalled, pods=[pod("a"), pod("b", ready=())])
    ready = cond(compute_status(TASKAPI, observed, {}, T0, POLICY), "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert ready["message"].startswith("1/2 pods ready; Deployment: ReplicaSet")
    assert "daprd not ready in pod(s) b" in ready["message"]


def _ready_reasons() -> set[str]:
    """Ready=False reasons over one scenario per blocker."""
    pods = [pod("a"), pod("b")]
    stalled = deployment(0)
    stalled["status"]["conditions"].append(
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
    )
    paused = TaskApi.from_body(sample_body(annotations={"taskapi.io/paused": "true"}))
    cases = [
        (TASKAPI, Observed(deployment=deployment(2), pods=pods, apply_error="conflict")),
        (TASKAPI, Observed(deployment=deployment(2), pods=pods, missing_components=["x"])),
        (TASKAPI, Observed(deployment=deployment(2), pods=pods, missing_secrets=["x"])),
        (TASKAPI, Observed(deployment=deployment(2), pods=[pod("a", containers=("taskapi",))])),
        (
            TASKAPI,
            Observed(deployment=deployment(1), pods=[pod("a"), pod("b", ready=("taskapi",))]),
        ),
        (TASKAPI, Observed(deployment=deployment(1), pods=[pod("a")])),
        (TASKAPI, Observed(deployment=stalled)),
        (TASKAPI, Observed(deployment=deployment(2), pods=pods, probes=[PodProbe("a")])),
        (paused, Observed(deployment=deployment(1), pods=[pod("a")])),
        (TASKAPI, Observed(deployment=deployment(2), pods=pods, conflicts=["Service/x ..."])),
        (TASKAPI, Observed(deployment=deployment(2), pods=pods, outbox_missing=["store"])),
    ]
    found = set()
    for taskapi, observed in cases:
        ready = cond(compute_status(taskapi, observed, {}, T0, POLICY), "Ready")
        assert ready["status"] == "False"
        found.add(ready["reason"])
    found.add(cond(invalid_spec_status({}, 1, "bad", T0), "Ready")["reason"])
    return found


def test_every_ready_false_reason_is_exported_and_classified() -> None:
    assert _ready_reasons() == names.READY_FALSE_REASONS
    assert not names.READY_FAILURE_REASONS & names.READY_TRANSIENT_REASONS


def test_an_unclassified_ready_reason_is_refused() -> None:
    with pytest.raises(ValueError, match="READY_FALSE_REASONS"):
        Cond(names.COND_READY, "False", "SomethingNew", "")
