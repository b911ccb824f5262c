"""The README's main job: the local demo runs end to end, twice, and leaves nothing behind; by
default on the real node, and on the fake node with --fake-node."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.ports import port_open

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
DEMO_SCRIPT = [sys.executable, str(REPO / "tools" / "demo" / "demo.py")]
DEMO = [*DEMO_SCRIPT, "--fake-node"]  # the fake node's tests; the real node's is its own


def _leftovers(workdir: Path) -> list[str]:
    """Processes still mentioning the demo's workdir in their command line."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(workdir) in cmdline:
            found.append(f"{proc.name}: {cmdline[:200]}")
    return found


def _pod_ips(output: str) -> list[str]:
    return re.findall(r"\+ daprd on (127\.\d+\.\d+\.\d+)", output)


def _assert_clean(workdir: Path, output: str) -> None:
    assert _leftovers(workdir) == []
    for ip in _pod_ips(output):  # the apps and sidecars that stood behind the pods
        assert not port_open(ip, 3501), f"daprd still listening on {ip}:3501"
        assert not port_open(ip, 3500), f"daprd still listening on {ip}:3500"


def test_demo_walkthrough_end_to_end(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    result = subprocess.run(
        [*DEMO, "--exit-after-walkthrough", "--workdir", str(workdir)],
        capture_output=True,
        text=True,
        timeout=420,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out[-4000:] + result.stderr[-4000:]

    # kubectl get taskapis, as printed by the demo: both pods 2/2, subscription healthy
    row = re.search(r"^\s+taskapi-sample\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+\S+$", out, re.M)
    assert row, out
    assert row.groups() == ("2/2", "2/2", "Healthy", "Ready")
    # the conditions table
    for condition in (
        "Ready",
        "ComponentsReady",
        "Available",
        "SidecarsReady",
        "SubscriptionHealthy",
    ):
        assert re.search(rf"^\s+{condition}\s+True\s", out, re.M), condition
    # pods carry the sidecar Dapr's injector added
    assert len(re.findall(r"\(containers taskapi, daprd\)", out)) == 2
    # one task created, completed, notified once, deleted; a forged call rejected
    assert re.search(r"POST /tasks -> 201, ETag \"\d+\"", out)
    assert "status completed" in out
    assert "notification-service recorded 1 notification(s)" in out
    assert re.search(r"DELETE /tasks/\w+ -> 204", out)
    assert "wrong X-API-Key -> 401" in out
    assert f"export KUBECONFIG={workdir}/cluster/kubeconfig" in out
    _assert_clean(workdir, out)


def test_demo_runs_again_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    for attempt in range(2):  # the second run reuses the same workdir
        proc = subprocess.Popen(
            [*DEMO, "--workdir", str(workdir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "try it yourself" in line:
                break
        output = "".join(lines)
        assert "try it yourself" in output, f"run {attempt}: {output[-4000:]}"
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        rest, _ = proc.communicate(timeout=90)
        output += rest
        assert proc.returncode == 0, output[-4000:]
        assert "interrupted: stopping everything" in output
        _assert_clean(workdir, output)


def test_demo_on_the_real_node_by_default(tmp_path: Path) -> None:
    """Where the machine allows it (here it does: the harness's real-node tests need the same),
    the demo runs the real node: pods 2/2 Running by a kubelet, the walkthrough through
    kubectl port-forward, and the log lines read with kubectl logs."""
    workdir = tmp_path / "demo"
    result = subprocess.run(
        [*DEMO_SCRIPT, "--exit-after-walkthrough", "--workdir", str(workdir)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out[-6000:] + result.stderr[-4000:]
    assert "the real node: a kubelet" in out, out[:2000]
    phases = re.search(r"^==> phases: .*$", out, re.M)
    assert phases, out[-4000:]
    print(phases.group(0))  # the warm target: 2/2 Running and Ready within 120 s of the start
    pods = re.findall(r"^\s+taskapi-sample-\S+\s+(\S+)\s+(\S+)\s", out, re.M)
    assert pods == [("2/2", "Running")] * 2, out
    row = re.search(r"^\s+taskapi-sample\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+\S+$", out, re.M)
    assert row, out
    assert row.groups() == ("2/2", "2/2", "Healthy", "Ready")
    assert re.search(r"kubectl port-forward -n taskapi-demo service/taskapi-sample \d+:8000", out)
    assert re.search(r"POST /tasks -> 201, ETag \"\d+\"", out)
    assert re.search(r"Received event: task.completed for task \w+", out), out
    assert re.search(r"Notification sent for task \w+", out), out
    assert f"export KUBECONFIG={workdir}/cluster/kubeconfig" in out
    assert _leftovers(workdir) == []
