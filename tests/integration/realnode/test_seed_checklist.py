"""The seed lesson's validation checklist, each command as the lesson writes it (only names
adapted: namespace, labels, container name), on the real node: a kubelet running this
project's images beside the injected daprd in Kubernetes mode, Dapr installed by its chart.

Runs on the real node only; where this machine cannot run one (not root, no namespaces), the
test fails with the reason rather than skipping: a missing node is a defect here.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from harness import node_network
from harness.port_forward import PortForward
from harness.real_stack import NAMESPACE, TASKAPI, TASKAPI_SELECTOR, RealStack
from harness.repo import REPO
from harness.waiting import eventually

pytestmark = pytest.mark.integration


def curl(method: str, url: str, body: Any = None) -> tuple[int, dict[str, str], Any]:
    """What the lesson's ``curl -s`` does, with the status and headers kept."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 - the port-forward on loopback
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=20) as resp:  # noqa: S310
        raw = resp.read()
        return (
            resp.status,
            {k.lower(): v for k, v in resp.headers.items()},
            json.loads(raw) if raw else None,
        )


def logs(stack: RealStack, selector: str, container: str) -> str:
    result = stack.kubectl(
        "logs", "-n", NAMESPACE, "-l", selector, "-c", container, "--tail=-1", "--prefix"
    )
    return result.stdout


def test_sc1_pods_show_2_of_2_running(real: RealStack) -> None:
    """SC-1 ``kubectl get pods -l app=task-api``: both pods 2/2 Running, by the kubelet's
    readiness probes of the app (/health) and of daprd (/v1.0/healthz)."""
    out = real.kubectl("get", "pods", "-n", NAMESPACE, "-l", TASKAPI_SELECTOR).stdout
    print(out)
    rows = [line.split() for line in out.splitlines()[1:]]
    assert len(rows) == 2, out
    assert all(row[1] == "2/2" and row[2] == "Running" for row in rows), out
    pods = real.cluster.get_json("pods", "-n", NAMESPACE, "-l", TASKAPI_SELECTOR)["items"]
    for pod in pods:
        names = {c["name"]: c for c in pod["spec"]["containers"]}
        assert set(names) == {"taskapi", "daprd"}, names.keys()
        assert names["daprd"]["readinessProbe"]["httpGet"]["path"] == "/v1.0/healthz"
        args = " ".join(names["daprd"].get("args") or [])
        assert "--mode kubernetes" in args, args
        assert pod["status"]["podIP"].startswith("198.18."), pod["status"]["podIP"]
        states = {s["name"]: s for s in pod["status"]["containerStatuses"]}
        assert all(s["ready"] and "running" in s["state"] for s in states.values()), states


def test_the_sample_runs_under_the_restricted_pod_security_standard(real: RealStack) -> None:
    """Its namespace enforces restricted, so every pod running there (the Task API with the
    injected daprd, notification-service, Redis) was admitted under it."""
    labels = real.cluster.get_json("namespace", NAMESPACE)["metadata"]["labels"]
    assert labels.get("pod-security.kubernetes.io/enforce") == "restricted", labels
    pods = real.cluster.get_json("pods", "-n", NAMESPACE)["items"]
    running = sorted(p["metadata"]["name"] for p in pods if p["status"].get("phase") == "Running")
    print(f"admitted under restricted and running: {running}")
    assert len(running) >= 4, running  # 2 Task API pods, notification-service, Redis


def test_taskapis_read_from_real_pods(real: RealStack) -> None:
    out = real.kubectl("get", "taskapis", "-n", NAMESPACE).stdout
    print(out)
    header, row = out.splitlines()[0].split(), out.splitlines()[1].split()
    assert header[:5] == ["NAME", "READY", "SIDECARS", "SUBSCRIPTION", "STATUS"], header
    assert row[:5] == [TASKAPI, "2/2", "2/2", "Healthy", "Ready"], row


def test_sc2_to_sc4_through_port_forward_and_logs(real: RealStack) -> None:
    """SC-2 create and get through ``kubectl port-forward service/...`` with the ETag; SC-3
    ``kubectl logs ... -c taskapi | grep "Received event"``; SC-4 complete, then
    ``grep "Notification"`` in the same logs (the subscriber logs it once notification-service,
    invoked through Dapr, has answered)."""
    forward = PortForward(real.cluster.kubeconfig, NAMESPACE, f"service/{TASKAPI}", 8000).start()
    try:
        status, headers, task = curl(
            "POST", f"{forward.url}/tasks", {"title": "Learn Dapr building blocks", "priority": 2}
        )
        assert status == 201, task
        assert headers.get("etag"), headers
        status, headers, got = curl("GET", f"{forward.url}/tasks/{task['id']}")
        assert status == 200, got
        assert got["title"] == "Learn Dapr building blocks", got
        etag = headers["etag"]
        print(f"SC-2: created and read task {task['id']} (ETag {etag}) through port-forward")

        def received(kind: str) -> str:
            out = logs(real, TASKAPI_SELECTOR, "taskapi")
            return "\n".join(
                line for line in out.splitlines()
                if "Received event" in line and kind in line and task["id"] in line
            )  # fmt: skip

        print("SC-3: " + eventually(lambda: received("task.created"), 60, "Received event"))
        request = urllib.request.Request(  # noqa: S310 - the port-forward on loopback
            f"{forward.url}/tasks/{task['id']}/status?status=completed", method="PUT"
        )
        with urllib.request.urlopen(request, timeout=20) as resp:  # noqa: S310
            assert resp.status == 200
        print("SC-3: " + eventually(lambda: received("task.completed"), 60, "completion event"))

        def notified() -> str:
            out = logs(real, TASKAPI_SELECTOR, "taskapi")
            return "\n".join(
                line for line in out.splitlines() if "Notification" in line and task["id"] in line
            )

        print("SC-4: " + eventually(notified, 90, "Notification ... in the logs"))
    finally:
        forward.close()


def test_sc5_zero_infrastructure_imports() -> None:
    """SC-5, the lesson's grep over the app's sources: no redis, confluent_kafka or httpx."""
    sources = sorted(str(p) for p in (REPO / "app").rglob("*.py"))
    result = subprocess.run(
        ["grep", "-E", "import redis|import confluent_kafka|import httpx", *sources],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout == "", result.stdout
    assert result.returncode == 1, result.stderr  # grep's "no match"


def test_exec_and_cluster_dns_in_a_pod(real: RealStack) -> None:
    """``kubectl exec`` works, and a pod resolves Services through the cluster's CoreDNS."""
    code = (
        "import socket; print(socket.gethostbyname('redis-master'), "
        "socket.gethostbyname('notification-service-dapr'))"
    )
    out = real.kubectl(
        "exec", "-n", NAMESPACE, f"deploy/{TASKAPI}", "-c", "taskapi", "--", "python3", "-c", code
    ).stdout
    print(f"from a pod: redis-master, notification-service-dapr -> {out.strip()}")
    assert re.fullmatch(r"198\.19\.\d+\.\d+ 198\.18\.\d+\.\d+", out.strip()), out


@pytest.mark.stops_the_real_node
def test_teardown_leaves_nothing_behind(real: RealStack) -> None:
    """Stopping the stack removes the node's namespace, cgroups, mounts and processes; only
    the guard route stays."""
    addr = real.cluster.addresses
    assert addr is not None
    workdir = real.workdir
    real.stop()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and node_network.existing().count(addr.number):
        time.sleep(0.5)
    assert addr.number not in node_network.existing()
    left_cgroups = [str(p) for p in Path("/sys/fs/cgroup").glob(f"*/{addr.netns}")]
    assert not left_cgroups, left_cgroups
    mounts = Path("/proc/self/mountinfo").read_text()
    assert str(workdir) not in mounts
    routes = subprocess.run(["ip", "route"], capture_output=True, text=True, check=True).stdout
    assert addr.pod_cidr not in routes, routes
    assert addr.service_cidr not in routes, routes
    assert "unreachable 198.18.0.0/15" in routes, routes
    leftover = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if str(workdir) in cmdline:
                leftover.append(cmdline[:160])
    assert not leftover, leftover
