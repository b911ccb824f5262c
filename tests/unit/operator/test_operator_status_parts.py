"""The status modules one by one (rollout truth, pods that count, subscription evidence), and
the whole status of named scenarios against a golden file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import yaml
from goldens import Golden
from operator_fixtures import POLICY, sample_body

from taskapi_operator.model import TaskApi
from taskapi_operator.status import Observed, PodProbe, compute_status, merge_patch
from taskapi_operator.status.pods import live_pods
from taskapi_operator.status.rollout import rollout
from taskapi_operator.status.subscription import assess, settle

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
TASKAPI = TaskApi.from_body(sample_body())  # replicas: 2


def pod(name: str, phase: str = "Running", ready: bool = True) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "taskapi"}, {"name": "daprd"}]},
        "status": {
            "phase": phase,
            "podIP": "127.1.0.9",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [
                {"name": "taskapi", "ready": ready},
                {"name": "daprd", "ready": ready},
            ],
        },
    }


def deployment(
    *,
    ready: int = 2,
    updated: int = 2,
    available: int = 2,
    generation: int = 4,
    observed: int = 4,
    stalled: bool = False,
) -> dict[str, Any]:
    conditions = [
        {
            "type": "Available",
            "status": "True" if available else "False",
            "reason": "MinimumReplicasAvailable",
            "message": "Deployment has minimum availability.",
        }
    ]
    if stalled:
        conditions.append(
            {
                "type": "Progressing",
                "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": 'ReplicaSet "web-7c9" has timed out progressing.',
            }
        )
    return {
        "metadata": {"generation": generation},
        "status": {
            "observedGeneration": observed,
            "replicas": max(ready, updated),
            "readyReplicas": ready,
            "updatedReplicas": updated,
            "availableReplicas": available,
            "conditions": conditions,
        },
    }


def test_rollout_needs_the_current_generation_and_all_updated_and_available() -> None:
    assert rollout(deployment(), 2).complete
    assert not rollout(deployment(observed=3), 2).complete
    assert not rollout(deployment(updated=1), 2).complete
    assert not rollout(deployment(available=1), 2).complete
    assert rollout(deployment(stalled=True), 2).stalled
    assert not rollout(None, 2).complete


def test_finished_and_terminating_pods_do_not_count() -> None:
    gone = pod("c")
    gone["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    pods = [
        pod("a"),
        pod("b"),
        pod("x", phase="Failed", ready=False),
        pod("y", phase="Succeeded", ready=False),
        gone,
    ]
    assert [v.name for v in live_pods(pods)] == ["a", "b"]


def _settle(
    raw_state_probes: list[PodProbe], previous: dict[str, Any], streak: int, now: datetime = T0
) -> dict[str, Any]:
    raw = assess("p", "t", raw_state_probes)
    return settle(raw, previous, probed=True, streak=streak, confirmations=2, now=now)


def test_one_probe_result_does_not_flip_the_published_state() -> None:
    healthy = _settle([PodProbe("a", registered=True)], {}, streak=1)
    assert healthy["state"] == "Healthy"  # the first finding is published at once
    timeout = [PodProbe("a", error="TimeoutError")]
    held = _settle(timeout, healthy, streak=1, now=T0 + timedelta(seconds=30))
    assert held == healthy  # one timeout: nothing changes, nothing to write
    assert merge_patch(healthy, held) == {}
    moved = _settle(timeout, healthy, streak=2, now=T0 + timedelta(seconds=35))
    assert moved["state"] == "Unknown"  # lasting: published


def test_the_same_finding_in_other_words_keeps_its_message() -> None:
    refused = _settle([PodProbe("a", error="ClientConnectorError: refused")], {}, streak=1)
    timeout = _settle(
        [PodProbe("a", error="TimeoutError")], refused, streak=5, now=T0 + timedelta(seconds=30)
    )
    assert timeout == refused


def _scenarios() -> dict[str, Observed]:
    ok = [pod("a"), pod("b")]
    registered = [PodProbe("a", registered=True), PodProbe("b", registered=True)]
    return {
        "ready": Observed(deployment=deployment(), pods=ok, probes=registered),
        "stuck-new-replicaset-old-pods-serve": Observed(
            deployment=deployment(updated=1, stalled=True), pods=ok, probes=registered
        ),
        "rollout-in-progress": Observed(deployment=deployment(updated=1), pods=ok),
        "generation-not-observed": Observed(deployment=deployment(observed=3), pods=ok),
        "evicted-pod-beside-ready-ones": Observed(
            deployment=deployment(), pods=[*ok, pod("z", phase="Failed", ready=False)]
        ),
        "child-conflict": Observed(
            deployment=None,
            conflicts=["Deployment/taskapi-sample exists and is not controlled by it"],
        ),
        "outbox-not-configured": Observed(
            deployment=deployment(), pods=ok, outbox_missing=["shared-state"]
        ),
    }


def test_status_scenarios_match_golden(golden: Golden) -> None:
    rendered = yaml.safe_dump(
        {
            name: compute_status(TASKAPI, observed, {}, T0, POLICY)
            for name, observed in _scenarios().items()
        },
        sort_keys=False,
        width=100,
    )
    golden("status-scenarios.yaml", rendered)


def test_only_a_transient_loss_of_ready_is_held() -> None:
    from taskapi_operator.status import ready_lost

    def status(state: str, reason: str) -> dict[str, Any]:
        return {"conditions": [{"type": "Ready", "status": state, "reason": reason}]}

    ready = status("True", "Ready")
    assert ready_lost(ready, status("False", "PodsNotReady"))
    assert ready_lost(ready, status("False", "SidecarNotReady"))
    assert not ready_lost(ready, status("False", "ProgressDeadlineExceeded"))
    assert not ready_lost(ready, status("False", "ChildConflict"))
    assert not ready_lost({}, status("False", "PodsNotReady"))  # first status: at once
    assert not ready_lost(status("False", "PodsNotReady"), ready)
