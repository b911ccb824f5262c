"""The operator benchmark's load on the cluster (tools/bench/bench_operator.py): unrelated
pods, N TaskApis created at once, waiting until all are Ready, and the operator profiled
meanwhile."""

from __future__ import annotations

import collections
import concurrent.futures
import signal
import subprocess
import sys
import time
import urllib.error
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.kube import Cluster
from harness.operator_stack import sample

NAMESPACE, NOISE_NAMESPACE = "bench", "noise"
NOISE_PER_DEPLOYMENT = 500


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- the cluster -------------------------------------------------------------------------


def create_noise(cluster: Cluster, pods: int, timeout: float) -> float:
    """``pods`` unrelated pods in Deployments of 500; seconds until they all run."""
    began = time.monotonic()
    cluster.kubectl("create", "namespace", NOISE_NAMESPACE)
    cluster.wait_for_default_serviceaccount(NOISE_NAMESPACE)
    remaining, index = pods, 0
    while remaining > 0:
        replicas = min(NOISE_PER_DEPLOYMENT, remaining)
        cluster.request(
            "POST",
            f"/apis/apps/v1/namespaces/{NOISE_NAMESPACE}/deployments",
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": f"noise-{index}"},
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": {"app": f"noise-{index}"}},
                    "template": {
                        "metadata": {"labels": {"app": f"noise-{index}"}},
                        "spec": {"containers": [{"name": "c", "image": "example.invalid/noise:1"}]},
                    },
                },
            },
        )
        remaining -= replicas
        index += 1
    deadline = time.monotonic() + timeout
    ready = 0
    while time.monotonic() < deadline:
        time.sleep(5)
        try:
            listing = cluster.request(
                "GET", f"/apis/apps/v1/namespaces/{NOISE_NAMESPACE}/deployments?resourceVersion=0"
            )
        except OSError as e:
            say(f"  (listing noise Deployments failed: {e}; retrying)")
            continue
        ready = sum((d.get("status") or {}).get("readyReplicas", 0) for d in listing["items"])
        if ready >= pods:
            return time.monotonic() - began
    raise TimeoutError(f"only {ready}/{pods} noise pods ready after {timeout:.0f}s")


def create_taskapis(cluster: Cluster, count: int) -> None:
    """All N at once: concurrent creates, as a GitOps sync of many applications would."""
    path = f"/apis/taskapi.io/v1alpha1/namespaces/{NAMESPACE}/taskapis"

    def create(i: int) -> None:
        body = sample(f"bench-{i:04d}", replicas=1)
        for attempt in range(3):  # bounded: a busy apiserver may time a create out
            try:
                cluster.request("POST", path, body)
                return
            except urllib.error.HTTPError as e:
                if e.code == 409:
                    return  # an earlier attempt that timed out did create it
                raise
            except OSError:
                if attempt == 2:
                    raise
                time.sleep(2)

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(create, range(count)))


def ready_reason(body: dict[str, Any]) -> tuple[bool, str]:
    for cond in (body.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True", str(cond.get("reason", ""))
    return False, "NoStatus"


def last_ready_at(cluster: Cluster) -> float:
    """Wall time when the last TaskApi became Ready (its Ready condition's transition)."""
    items = cluster.request(
        "GET", f"/apis/taskapi.io/v1alpha1/namespaces/{NAMESPACE}/taskapis?resourceVersion=0"
    )["items"]
    times = [
        datetime.fromisoformat(c["lastTransitionTime"].replace("Z", "+00:00")).timestamp()
        for item in items
        for c in (item.get("status") or {}).get("conditions") or []
        if c.get("type") == "Ready" and c.get("status") == "True"
    ]
    return max(times) if times else time.time()


PY_SPY = Path(sys.executable).parent / "py-spy"  # installed beside this Python, by hand


@contextmanager
def profiled(pid: int, output: Path | None) -> Iterator[None]:
    """py-spy samples the operator while the block runs (collapsed stacks in ``output``)."""
    if output is None:
        yield
        return
    spy = subprocess.Popen(
        [
            str(PY_SPY),
            "record",
            "--pid",
            str(pid),
            "--format",
            "raw",
            "--rate",
            "50",
            "--output",
            str(output),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        try:
            spy.wait(timeout=60)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait()


def wait_all_ready(cluster: Cluster, count: int, began: float, timeout: float) -> float | None:
    """Seconds from ``began`` until all ``count`` are Ready; None when the time ran out."""
    deadline = began + timeout
    last_report = 0.0
    while time.monotonic() < deadline:
        try:
            # resourceVersion=0: served from the apiserver's watch cache, not etcd
            items = cluster.request(
                "GET",
                f"/apis/taskapi.io/v1alpha1/namespaces/{NAMESPACE}/taskapis?resourceVersion=0",
            )["items"]
        except OSError as e:  # an apiserver busy past the client's timeout: ask again
            say(f"  (listing TaskApis failed: {e}; retrying)")
            time.sleep(5)
            continue
        states = [ready_reason(item) for item in items]
        ready = sum(1 for ok, _ in states if ok)
        if ready == count:
            return time.monotonic() - began
        if time.monotonic() - last_report >= 15:
            reasons = collections.Counter(reason for ok, reason in states if not ok)
            deployments = cluster.request(
                "GET", f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments?resourceVersion=0"
            )["items"]
            available = sum(
                1 for d in deployments if (d.get("status") or {}).get("readyReplicas", 0) >= 1
            )
            say(
                f"  {ready}/{count} Ready after {time.monotonic() - began:.0f}s; "
                f"Deployments {len(deployments)} ({available} with a ready pod); "
                f"not Ready: {dict(reasons.most_common(4))}"
            )
            last_report = time.monotonic()
        time.sleep(5)
    return None


@contextmanager
def apiserver_profiled(
    cluster: Cluster, output: Path | None, delay: float = 20.0, seconds: int = 60
) -> Iterator[None]:
    """kube-apiserver's CPU profile (``go tool pprof`` format) of ``seconds`` from ``delay``
    into the block, taken by kubectl beside it (the cluster needs ClusterOptions.profiling)."""
    if output is None:
        yield
        return
    path = f"/debug/pprof/profile?seconds={seconds}"
    script = f"sleep {delay:g}; exec kubectl --kubeconfig={cluster.kubeconfig} get --raw '{path}'"
    with output.open("wb") as sink:
        grab = subprocess.Popen(["sh", "-c", script], stdout=sink, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        try:
            grab.wait(timeout=delay + seconds + 60)  # bounded: the profile's own length
        except subprocess.TimeoutExpired:
            grab.kill()
        say(f"  apiserver CPU profile ({seconds}s from {delay:g}s in): {output}")
