"""The fake node keeps pod readiness true to the containers, as a kubelet would.

The node-lifecycle controller marks every pod on a node NotReady when the node's Lease goes
stale (a load spike can starve kwok's renewal); kwok's own stages never set a Running pod
Ready again. tools/binaries/kwok/stages/pod-ready-again.yaml does, unless a container
reports it is not ready.
"""

from __future__ import annotations

import json
import textwrap
import time
from typing import Any

import pytest

from harness.kube import Cluster

pytestmark = pytest.mark.integration


def _pod(cluster: Cluster, namespace: str) -> dict[str, Any]:
    def one_ready() -> dict[str, Any] | None:
        pods = cluster.get_json("pods", "-n", namespace, "-l", "app=held")["items"]
        return pods[0] if pods and _ready(pods[0]) == "True" else None

    found: dict[str, Any] = cluster.wait_for(one_ready, 60, "a Ready pod")
    return found


def _ready(pod: dict[str, Any]) -> str:
    for cond in pod["status"].get("conditions") or []:
        if cond["type"] == "Ready":
            return str(cond["status"])
    return ""


def _patch_status(
    cluster: Cluster, namespace: str, name: str, status: dict[str, Any]
) -> dict[str, Any]:
    """Patch the pod's status; returns the pod as written (before kwok reacts)."""
    out = cluster.kubectl(
        "patch",
        "pod",
        name,
        "-n",
        namespace,
        "--subresource=status",
        "--type=strategic",
        "-p",
        json.dumps({"status": status}),
        "-o",
        "json",
    )
    written: dict[str, Any] = json.loads(out.stdout)
    return written


def _mark_not_ready(containers_ready: bool) -> dict[str, Any]:
    return {
        "conditions": [
            {
                "type": "Ready",
                "status": "False",
                "reason": "NodeNotReady" if containers_ready else "ContainersNotReady",
            },
        ]
    }


def test_readiness_follows_the_containers(cluster: Cluster, namespace: str) -> None:
    cluster.apply_yaml(
        textwrap.dedent("""\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: held}
        spec:
          replicas: 1
          selector: {matchLabels: {app: held}}
          template:
            metadata: {labels: {app: held}}
            spec:
              containers:
                - {name: app, image: example.invalid/app:1}
                - {name: daprd, image: example.invalid/daprd:1}
        """),
        namespace=namespace,
    )
    name = _pod(cluster, namespace)["metadata"]["name"]

    # what the node-lifecycle controller does to a stale node's pods: containers still ready
    written = _patch_status(cluster, namespace, name, _mark_not_ready(containers_ready=True))
    assert _ready(written) == "False"
    cluster.wait_for(
        lambda: _ready(cluster.get_json("pod", name, "-n", namespace)) == "True",
        60,
        "pod Ready again: its containers are ready",
    )

    # a container that reports not ready (a failing readiness probe) keeps the pod NotReady
    pod = cluster.get_json("pod", name, "-n", namespace)
    statuses = pod["status"]["containerStatuses"]
    for container in statuses:
        container["ready"] = container["name"] != "daprd"
    written = _patch_status(
        cluster,
        namespace,
        name,
        {"containerStatuses": statuses, **_mark_not_ready(containers_ready=False)},
    )
    assert _ready(written) == "False"
    deadline = time.monotonic() + 10  # several of kwok's stage rounds (it reacts in < 1 s)
    while time.monotonic() < deadline:
        assert _ready(cluster.get_json("pod", name, "-n", namespace)) == "False"
        time.sleep(1)
