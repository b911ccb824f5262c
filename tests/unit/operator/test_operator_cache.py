"""What the watch indices keep of a pod and of a referenced Component (cache.py): only the
fields their readers use, and everything those readers conclude is unchanged by the trim.

The input is a real injected pod and a real Component, listed from the benchmark's cluster
(the pod with a managedFields entry added: the watch delivers it, kubectl hides it); the
trimmed pod is compared with a golden file."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml
from goldens import Golden

from taskapi_operator import cache, names
from taskapi_operator.status import live_pods, probe_targets
from taskapi_operator.status.pods import pod_view

GOLDEN_DIR = Path(__file__).parent / "golden"
INPUT = yaml.safe_load((GOLDEN_DIR / "cache-input.yaml").read_text())


def _pod(**status: Any) -> dict[str, Any]:
    pod = copy.deepcopy(INPUT["pod"])
    pod["status"].update(status)
    return pod


def _variants() -> dict[str, dict[str, Any]]:
    """Pods that reach every branch of pod_view and live_pods."""
    not_ready = _pod(conditions=[{"type": "Ready", "status": "False"}])
    for s in not_ready["status"]["containerStatuses"]:
        s["ready"] = s["name"] != names.DAPR_SIDECAR_CONTAINER
    native = copy.deepcopy(INPUT["pod"])  # daprd as a native sidecar (an init container)
    sidecar = next(
        c for c in native["spec"]["containers"] if c["name"] == names.DAPR_SIDECAR_CONTAINER
    )
    native["spec"]["containers"].remove(sidecar)
    native["spec"]["initContainers"] = [{**sidecar, "restartPolicy": "Always"}]
    statuses = native["status"]["containerStatuses"]
    native["status"]["initContainerStatuses"] = [
        s for s in statuses if s["name"] == names.DAPR_SIDECAR_CONTAINER
    ]
    native["status"]["containerStatuses"] = [
        s for s in statuses if s["name"] != names.DAPR_SIDECAR_CONTAINER
    ]
    crash_loop = copy.deepcopy(not_ready)  # the app restarted by the kubelet, and waiting
    app = next(
        s
        for s in crash_loop["status"]["containerStatuses"]
        if s["name"] != names.DAPR_SIDECAR_CONTAINER
    )
    app.update(
        ready=False,
        restartCount=3,
        state={"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
        lastState={"terminated": {"exitCode": 2, "reason": "Error", "finishedAt": "now"}},
    )
    terminating = copy.deepcopy(INPUT["pod"])
    terminating["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {
        "running": INPUT["pod"],
        "not-ready-sidecar": not_ready,
        "native-sidecar": native,
        "pending": _pod(phase="Pending", podIP=None, conditions=[], containerStatuses=[]),
        "evicted": _pod(phase="Failed"),
        "crash-loop": crash_loop,
        "terminating": terminating,
        "no-status": {k: v for k, v in INPUT["pod"].items() if k != "status"},
    }


def test_a_slim_pod_reads_the_same_as_the_full_pod() -> None:
    for name, full in _variants().items():
        slim = cache.slim_pod(full)
        assert pod_view(slim) == pod_view(full), name
        assert pod_view(full).stuck or name != "crash-loop", "the variant must be stuck"
        assert live_pods([slim]) == live_pods([full]), name
        assert probe_targets(live_pods([slim])) == probe_targets(live_pods([full])), name
        assert slim["metadata"]["labels"] == full["metadata"]["labels"], name  # selector


def test_a_slim_pod_is_small_and_matches_golden(golden: Golden) -> None:
    full, slim = INPUT["pod"], cache.slim_pod(INPUT["pod"])
    assert "managedFields" not in slim["metadata"]
    assert len(json.dumps(slim)) * 5 < len(json.dumps(full))
    golden("cache-slim-pod.yaml", yaml.safe_dump(slim, sort_keys=True, width=100))


def test_pods_are_indexed_slim_by_instance_and_only_ours() -> None:
    pod = INPUT["pod"]
    key = (pod["metadata"]["namespace"], pod["metadata"]["labels"][names.LABEL_INSTANCE])
    assert cache.pod_by_instance(pod) == {key: cache.slim_pod(pod)}
    foreign = copy.deepcopy(pod)
    del foreign["metadata"]["labels"][names.LABEL_MANAGED_BY]
    assert cache.pod_by_instance(foreign) is None


def test_a_referenced_component_keeps_its_name_and_metadata_names_only() -> None:
    full = INPUT["component"]
    slim = cache.by_name(full)[(full["metadata"]["namespace"], full["metadata"]["name"])]
    assert cache.metadata_names(slim) == cache.metadata_names(full) >= set(names.OUTBOX_METADATA)
    assert slim["metadata"]["name"] == full["metadata"]["name"]
    assert all(set(item) == {"name"} for item in slim["spec"]["metadata"])  # no values kept
    assert cache.metadata_names({"metadata": {"name": "bare"}}) == set()
