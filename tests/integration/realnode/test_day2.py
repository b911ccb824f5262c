"""What only a kubelet shows (issue 18, item 3), on the session's real node: a killed daprd
restarted by the kubelet with the TaskApi's status following it down and back, the operator's
leader pod deleted with the standby taking over, and an app that exits at start. Each test
changes the node and puts it back (2/2 Ready), after the read-only tests (conftest.py)."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest

from harness import operator_chart
from harness.node_images import EXITS_AT_START_IMAGE
from harness.port_forward import PortForward
from harness.real_stack import NAMESPACE, TASKAPI, TASKAPI_SELECTOR, RealStack, StatusWatch
from harness.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.changes_the_real_node]


def http(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 - the port-forward on loopback
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=20) as resp:  # noqa: S310
        raw = resp.read()
        return resp.status, json.loads(raw) if raw else None


def daprd_status(real: RealStack, pod: str) -> dict[str, Any]:
    found = real.cluster.get_json("pod", pod, "-n", NAMESPACE)
    return next(s for s in found["status"]["containerStatuses"] if s["name"] == "daprd")


def test_a_crashing_daprd_is_restarted_and_the_status_follows(real: RealStack) -> None:
    """daprd killed twice: the kubelet restarts it at once the first time (back in ~4 s, too
    short for the operator's two-observation debounce to publish), then after its crash-loop
    back-off (10 s), long enough that the TaskApi must say SidecarNotReady, then Ready."""
    with PortForward(real.cluster.kubeconfig, NAMESPACE, f"service/{TASKAPI}", 8000) as api:
        status, task = http("POST", f"{api.url}/tasks", {"title": "survives a sidecar restart"})
        assert status == 201, task
    pods = real.cluster.get_json("pods", "-n", NAMESPACE, "-l", TASKAPI_SELECTOR)["items"]
    pod = sorted(p["metadata"]["name"] for p in pods)[0]
    watch = StatusWatch(real)
    began = time.monotonic()
    try:
        assert real.cluster.node is not None
        for kill in (1, 2):
            before = daprd_status(real, pod)
            container = before["containerID"].removeprefix("containerd://")
            real.cluster.node.ctr("tasks", "kill", "--signal", "SIGKILL", container)
            killed = time.monotonic()

            def restarted_and_ready(count: int = before["restartCount"]) -> bool:
                now = daprd_status(real, pod)
                return now["restartCount"] > count and bool(now["ready"])

            eventually(restarted_and_ready, 120, f"daprd of {pod} restarted and ready")
            print(f"kill {kill}: daprd of {pod} restarted and ready after "
                  f"{time.monotonic() - killed:.1f} s")  # fmt: skip
        real.wait_ready(replicas=2)
        print(f"TaskApi Ready {time.monotonic() - began:.1f} s after the first kill")
    finally:
        watch.close()
    print("TaskApi (ready, reason) as kubectl get -w saw it: " + " -> ".join(watch.seen))
    assert "1/2 SidecarNotReady" in watch.seen, watch.seen
    assert watch.seen[-1] == "2/2 Ready", watch.seen
    with PortForward(real.cluster.kubeconfig, NAMESPACE, f"service/{TASKAPI}", 8000) as api:
        status, got = http("GET", f"{api.url}/tasks/{task['id']}")
    assert status == 200, got
    assert got["title"] == "survives a sidecar restart", got


def test_the_standby_leads_when_the_leader_pod_is_deleted(real: RealStack) -> None:
    ns = operator_chart.NAMESPACE
    leader = real.cluster.get_json("lease", "taskapi-operator", "-n", ns)["spec"]["holderIdentity"]
    real.kubectl("delete", "pod", leader, "-n", ns, "--wait=false")
    deleted = time.monotonic()
    real.kubectl("patch", "taskapi", TASKAPI, "-n", NAMESPACE, "--type=merge", "-p",
                 '{"spec":{"replicas":3}}')  # fmt: skip
    try:

        def scaled() -> bool:
            found = real.cluster.get_json("deployment", TASKAPI, "-n", NAMESPACE)
            return found["spec"]["replicas"] == 3

        eventually(scaled, 120, "the spec change (replicas 3) on the Deployment")
        reached = time.monotonic() - deleted
        holder = real.cluster.get_json("lease", "taskapi-operator", "-n", ns)["spec"]
        print(f"leader {leader} deleted; {holder['holderIdentity']} leads; replicas 3 reached "
              f"the Deployment {reached:.1f} s after the deletion (target 30 s)")  # fmt: skip
        assert holder["holderIdentity"] != leader, holder
    finally:
        real.kubectl("patch", "taskapi", TASKAPI, "-n", NAMESPACE, "--type=merge", "-p",
                     '{"spec":{"replicas":2}}')  # fmt: skip
    real.wait_ready(replicas=2)

    def pods(namespace: str, selector: str) -> int:
        return len(real.cluster.get_json("pods", "-n", namespace, "-l", selector)["items"])

    # back as it was: no pod of the scale-down or of the deleted leader still terminating
    eventually(lambda: pods(NAMESPACE, TASKAPI_SELECTOR) == 2, 120, "the Task API at 2 pods")
    eventually(lambda: pods(ns, operator_chart.SELECTOR) == 2, 120, "the operator at 2 pods")


def test_an_app_that_exits_at_start_is_named_in_the_ready_message(real: RealStack) -> None:
    """A TaskApi whose image exits at once: the kubelet's crash loop, and Ready=False naming
    the container, its exit code and the command to read its last words, long before the
    Deployment's progress deadline (600 s)."""
    sample = real.cluster.get_json("taskapi", TASKAPI, "-n", NAMESPACE)
    crasher = {
        "apiVersion": sample["apiVersion"],
        "kind": "TaskApi",
        "metadata": {"name": "crasher"},
        "spec": {**sample["spec"], "replicas": 1, "image": EXITS_AT_START_IMAGE},
    }
    real.cluster.apply_yaml(json.dumps(crasher), NAMESPACE)
    began = time.monotonic()
    try:

        def named() -> str:
            found = real.cluster.get_json("taskapi", "crasher", "-n", NAMESPACE)
            conditions = (found.get("status") or {}).get("conditions") or []
            ready = next((c for c in conditions if c["type"] == "Ready"), {})
            message = str(ready.get("message", ""))
            return message if "CrashLoopBackOff" in message else ""

        message = eventually(named, 180, "Ready=False naming the crash loop")
        print(f"{time.monotonic() - began:.1f} s after the apply, Ready says: {message}")
        found = real.cluster.get_json("taskapi", "crasher", "-n", NAMESPACE)
        ready = next(c for c in found["status"]["conditions"] if c["type"] == "Ready")
        assert (ready["status"], ready["reason"]) == ("False", "PodsNotReady"), ready
        assert "container taskapi: CrashLoopBackOff, last exit code 3" in message, message
        pod = message.split("pod ", 1)[1].split(" ", 1)[0]
        said = real.kubectl("logs", "-n", NAMESPACE, pod, "-c", "taskapi", "--previous").stdout
        assert "exits-at-start: exiting with code 3" in said, said  # what the message points at
    finally:
        real.kubectl("delete", "taskapi", "crasher", "-n", NAMESPACE, "--wait=true")
