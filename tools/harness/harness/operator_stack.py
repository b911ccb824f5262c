"""Helpers of the operator integration tests: waiting, reading TaskApis, counting writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.kube import Cluster
from harness.ports import LOOPBACK, free_port
from harness.process import terminate
from harness.repo import REPO
from harness.waiting import eventually

CRD = REPO / "crds" / "taskapi.yaml"
SAMPLE = REPO / "deploy" / "samples" / "taskapi.yaml"
# The operator under test re-reconciles everything this often.
RESYNC_SECONDS = 2
# Intervals shortened so that tests see resyncs, retries and re-checks within seconds. A
# benchmark runs with the operator's own defaults instead (running_operator(test_speed=False)):
# a 1 s Secret check interval made the steady state look like 5-7 Secret GETs per second.
TEST_SPEED_ENV = {
    "TASKAPI_OPERATOR_PROBE_TIMEOUT_SECONDS": "1",
    "TASKAPI_OPERATOR_RESYNC_INTERVAL_SECONDS": str(RESYNC_SECONDS),
    "TASKAPI_OPERATOR_REQUEST_TIMEOUT_SECONDS": "15",
    "TASKAPI_OPERATOR_SECRET_CHECK_SECONDS": "1",
    "TASKAPI_OPERATOR_PROBE_CONFIRM_SECONDS": "0.5",
    "TASKAPI_OPERATOR_READY_HOLD_SECONDS": "2",
}


@dataclass(frozen=True)
class RunningOperator:
    cluster: Cluster
    user: str
    probe_port: int
    liveness_url: str
    log: Path
    process: subprocess.Popen[bytes]
    metrics_url: str  # base URL of /metrics, /livez, /readyz

    def get(self, path: str) -> tuple[int, str]:
        """GET on the operator's metrics/health port: (status, body)."""
        try:
            with urllib.request.urlopen(self.metrics_url + path, timeout=5) as resp:  # noqa: S310
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def live(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - loopback
            return bool(resp.status == 200)
    except OSError:
        return False


def wait_for(
    predicate: Callable[[], Any], timeout: float, what: str, operator: RunningOperator | None = None
) -> Any:
    """Poll within a bounded time, tolerating objects not there yet; on timeout show the
    operator's last log lines too."""
    return eventually(
        predicate,
        timeout,
        what,
        interval=0.5,
        tolerate=(subprocess.CalledProcessError, KeyError, IndexError, TypeError),
        explain=(lambda: "\n".join(operator.log_text().splitlines()[-30:])) if operator else None,
    )


def get_json(cluster: Cluster, *args: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)
    return found


def sample(name: str = "taskapi-sample", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = yaml.safe_load(SAMPLE.read_text())
    body["metadata"]["name"] = name
    body["spec"].update(spec)
    return body


def apply(cluster: Cluster, namespace: str, body: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(body))


def create_secrets(cluster: Cluster, namespace: str) -> None:
    """The Secrets the sample references (Redis password, notification API key)."""
    cluster.kubectl(
        "create", "secret", "generic", "redis", "-n", namespace, "--from-literal=redis-password=pw"
    )
    cluster.kubectl(
        "create",
        "secret",
        "generic",
        "notification-api-key",
        "-n",
        namespace,
        "--from-literal=api-key=k",
    )


def condition(taskapi: dict[str, Any], kind: str) -> dict[str, Any]:
    for cond in (taskapi.get("status") or {}).get("conditions") or []:
        if cond["type"] == kind:
            return dict(cond)
    return {}


def operator_writes(cluster: Cluster, user: str, namespace: str) -> list[str]:
    """Write requests the apiserver audited for ``user`` in ``namespace``."""
    writes = []
    for event in cluster.write_requests():
        ref = event.get("objectRef") or {}
        if (event.get("user") or {}).get("username") == user and ref.get("namespace") == namespace:
            writes.append(
                f"{event['verb']} {ref.get('resource')}/{ref.get('name', '')}"
                f"{'/' + ref['subresource'] if ref.get('subresource') else ''}"
            )
    return writes


def why_written(
    cluster: Cluster, namespace: str, operator: RunningOperator, writes: list[str]
) -> str:
    """What a failed "no writes" assertion needs to show: the writes, what the operator said
    about them, the Events, and the pods' and node's readiness (a kwok node whose Lease is not
    renewed goes NotReady and the node controller marks every pod on it Ready=False)."""
    said = [
        line
        for line in operator.log_text().splitlines()
        if "changed" in line or "Applied" in line or "retry" in line
    ]
    events = cluster.kubectl("get", "events", "-n", namespace, "--sort-by=.lastTimestamp").stdout
    pods = cluster.kubectl("get", "pods", "-n", namespace, "-o", "wide").stdout
    nodes = cluster.kubectl("get", "nodes", "-o", "wide").stdout
    return "\n".join([f"writes: {writes}", *said[-20:], events, pods, nodes])


OPERATOR_USER = "taskapi-operator-under-test"


@contextmanager
def running_operator(
    cluster: Cluster,
    workdir: Path,
    *,
    user: str = OPERATOR_USER,
    groups: tuple[str, ...] = ("system:masters",),
    kubeconfig: Path | None = None,
    env: dict[str, str] | None = None,
    test_speed: bool = True,
) -> Iterator[RunningOperator]:
    """``python -m taskapi_operator``, as the image runs it, pointed at ``cluster``.

    It runs as the client-certificate ``user`` in ``groups``, or with ``kubeconfig`` (e.g. a
    ServiceAccount token from ``Cluster.serviceaccount_kubeconfig``) when one is given;
    ``env`` overrides its TASKAPI_OPERATOR_* settings, on top of TEST_SPEED_ENV unless
    ``test_speed`` is False (the operator's own defaults: benchmarks).
    """
    cluster.install_crds([CRD])
    # the leader-election Lease lives in the operator's namespace, as deploy/operator has it
    cluster.kubectl("create", "namespace", "taskapi-system", check=False)
    if kubeconfig is None:
        kubeconfig = cluster.user_kubeconfig(user, list(groups))
    probe_port, liveness_port, metrics_port = free_port(), free_port(), free_port()
    liveness = f"http://{LOOPBACK}:{liveness_port}/healthz"
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "TASKAPI_OPERATOR_LIVENESS_ENDPOINT": liveness,
        "TASKAPI_OPERATOR_PROBE_PORT": str(probe_port),
        "TASKAPI_OPERATOR_METRICS_HOST": LOOPBACK,
        "TASKAPI_OPERATOR_METRICS_PORT": str(metrics_port),
        **(TEST_SPEED_ENV if test_speed else {}),
        "NO_PROXY": "*",
        **(env or {}),
    }
    log = workdir / "operator.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "taskapi_operator"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = RunningOperator(
        cluster, user, probe_port, liveness, log, process, f"http://{LOOPBACK}:{metrics_port}"
    )
    try:
        wait_for(lambda: live(liveness), 60, "operator liveness endpoint", running)
        yield running
    finally:
        terminate(process)
