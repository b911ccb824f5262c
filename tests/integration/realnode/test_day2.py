"""What only a kubelet shows (issue 18, item 3), on the session's real node: a killed daprd
restarted by the kubelet with the TaskApi's status following it down and back, and the
operator's leader pod deleted with the standby taking over. Each test changes the node and
puts it back (2/2 Ready), and runs after the read-only tests (conftest.py orders them)."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.request
from typing import Any

import pytest

from harness import operator_chart
from harness.port_forward import PortForward
from harness.real_stack import NAMESPACE, TASKAPI, TASKAPI_SELECTOR, RealStack
from harness.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.changes_the_real_node]
READY_REASON = '{.status.ready} {.status.conditions[?(@.type=="Ready")].reason}{"\\n"}'


class StatusWatch:
    """``kubectl get taskapi -w``, every (ready, reason) it printed kept in order: a poll could
    miss a short SidecarNotReady."""

    def __init__(self, real: RealStack) -> None:
        argv = ["kubectl", f"--kubeconfig={real.cluster.kubeconfig}", "get", "taskapi", TASKAPI]
        argv += ["-n", NAMESPACE, "-w", "-o", f"jsonpath={READY_REASON}"]
        self._proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            if line.strip() and (not self.seen or self.seen[-1] != line.strip()):
                self.seen.append(line.strip())

    def close(self) -> None:
        self._proc.terminate()
        self._proc.wait(timeout=10)


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


def test_a_killed_daprd_is_restarted_and_the_status_follows(real: RealStack) -> None:
    with PortForward(real.cluster.kubeconfig, NAMESPACE, f"service/{TASKAPI}", 8000) as api:
        status, task = http("POST", f"{api.url}/tasks", {"title": "survives a sidecar restart"})
        assert status == 201, task
    pods = real.cluster.get_json("pods", "-n", NAMESPACE, "-l", TASKAPI_SELECTOR)["items"]
    pod = sorted(p["metadata"]["name"] for p in pods)[0]
    before = daprd_status(real, pod)
    container = before["containerID"].removeprefix("containerd://")
    watch = StatusWatch(real)
    try:
        assert real.cluster.node is not None
        real.cluster.node.ctr("tasks", "kill", "--signal", "SIGKILL", container)
        killed = time.monotonic()

        def restarted_and_ready() -> bool:
            now = daprd_status(real, pod)
            return now["restartCount"] > before["restartCount"] and bool(now["ready"])

        eventually(restarted_and_ready, 120, f"daprd of {pod} restarted by the kubelet and ready")
        print(f"daprd of {pod} restarted and ready {time.monotonic() - killed:.1f} s after kill")
        real.wait_ready(replicas=2)
        print(f"TaskApi Ready again {time.monotonic() - killed:.1f} s after the kill")
    finally:
        watch.close()
    print("TaskApi (ready, reason) as kubectl get -w saw it: " + " -> ".join(watch.seen))
    assert any(s.endswith("SidecarNotReady") or s.startswith("1/2") for s in watch.seen), watch.seen
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
    eventually(
        lambda: (
            len(real.cluster.get_json("pods", "-n", ns, "-l", operator_chart.SELECTOR)["items"])
            == 2
        ),
        120,
        "the operator's Deployment back to 2 pods",
    )
