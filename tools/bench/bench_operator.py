"""Measures the operator at cluster scale on the real harness, and prints numbers.

A real control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok) with Dapr's
real sentry and sidecar injector; optionally NOISE_PODS unrelated pods first; then the
operator (``python -m taskapi_operator``, production settings: 30 s resync, leader election
on) and N TaskApis of 1 replica each, created at once. It prints the seconds until all N are
Ready, then, over a steady window (60 s), the operator's writes and API requests by verb
(from the apiserver's audit log, which records every request of the operator's user), its
sidecar probes, CPU seconds and memory. Every loop is bounded in count and time. Targets are
printed beside the figures, never asserted.

    scripts/bench-operator.sh N [NOISE_PODS]
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import dataclasses
import json
import os
import tempfile
import time
import urllib.error
from datetime import datetime
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from harness import binaries
from harness.dapr_control_plane import DaprControlPlane
from harness.kube import CLIENT_QPS, Cluster
from harness.operator_stack import CRD, RunningOperator, running_operator, sample
from harness.ports import free_port

USER = "taskapi-operator-bench"
NAMESPACE, NOISE_NAMESPACE = "bench", "noise"
NOISE_PER_DEPLOYMENT = 500
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
TARGETS = {
    "ready_seconds_at_1000": 180.0,
    "writes_per_minute": 0.0,
    "requests_per_second_per_taskapi": 0.05,
    "rss_mib_at_1000": 250.0,
}


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


# -- what the operator did ----------------------------------------------------------------


@dataclasses.dataclass
class Sample:
    at: float  # wall clock
    cpu_seconds: float
    rss_mib: float
    peak_rss_mib: float
    metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float]
    audit_offset: int


def proc_sample(pid: int) -> tuple[float, float, float]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    status = dict(
        line.split(":", 1)
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if ":" in line
    )
    return cpu, int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


def scrape(operator: RunningOperator) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, text = operator.get("/metrics")
    if status != 200:
        raise RuntimeError(f"/metrics answered {status}")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def take(operator: RunningOperator, cluster: Cluster) -> Sample:
    cpu, rss, peak = proc_sample(operator.process.pid)
    audit = cluster.audit_log
    offset = audit.stat().st_size if audit is not None and audit.exists() else 0
    return Sample(time.time(), cpu, rss, peak, scrape(operator), offset)


def metric_delta(
    before: Sample, after: Sample, name: str
) -> dict[tuple[tuple[str, str], ...], float]:
    out: dict[tuple[tuple[str, str], ...], float] = {}
    for (metric, labels), value in after.metrics.items():
        if metric == name:
            out[labels] = value - before.metrics.get((metric, labels), 0.0)
    return out


def audited_requests(cluster: Cluster, before: Sample, after: Sample) -> list[dict[str, Any]]:
    """The operator user's requests received inside the window (one per auditID)."""
    assert cluster.audit_log is not None
    seen: dict[str, dict[str, Any]] = {}
    if cluster.audit_log.stat().st_size < before.audit_offset:
        raise RuntimeError(
            f"{cluster.audit_log} was rotated during the window: its requests cannot be counted"
        )
    with cluster.audit_log.open("rb") as log:
        log.seek(before.audit_offset)
        for raw in log:
            if USER.encode() not in raw:
                continue
            try:
                event = json.loads(raw)
            except ValueError:
                continue  # a line still being written at the window's end
            if (event.get("user") or {}).get("username") != USER:
                continue
            received = datetime.fromisoformat(
                event["requestReceivedTimestamp"].replace("Z", "+00:00")
            ).timestamp()
            if before.at <= received < after.at:
                seen[event["auditID"]] = event
    return list(seen.values())


def resource_of(event: dict[str, Any]) -> str:
    ref = event.get("objectRef") or {}
    sub = ref.get("subresource")
    return f"{ref.get('resource', '?')}{'/' + sub if sub else ''}"


def report_window(cluster: Cluster, count: int, before: Sample, after: Sample) -> None:
    seconds = after.at - before.at
    requests = audited_requests(cluster, before, after)
    by_verb = collections.Counter(e["verb"] for e in requests)
    writes = [e for e in requests if e["verb"] in WRITE_VERBS and resource_of(e) != "leases"]
    lease_writes = [e for e in requests if e["verb"] in WRITE_VERBS and resource_of(e) == "leases"]
    total = len(requests)
    non_lease = total - sum(1 for e in requests if resource_of(e) == "leases")
    probes = metric_delta(before, after, "taskapi_operator_probe_results_total")
    passes = metric_delta(before, after, "taskapi_operator_reconcile_passes_total")
    per_minute = 60 / seconds
    say(f"steady window: {seconds:.0f}s")
    print(
        f"  operator writes:            {len(writes) * per_minute:8.1f} /min "
        f"(target {TARGETS['writes_per_minute']:.0f}; Lease renewals apart: "
        f"{len(lease_writes) * per_minute:.0f}/min)"
    )
    for what, n in collections.Counter(f"{e['verb']} {resource_of(e)}" for e in writes).most_common(
        8
    ):
        print(f"      {what}: {n}")
    print(
        f"  API requests (audit):       {total / seconds:8.2f} /s "
        f"({non_lease / seconds / max(count, 1):.4f} /s per TaskApi without the Lease, "
        f"target {TARGETS['requests_per_second_per_taskapi']})"
    )
    for verb, n in by_verb.most_common():
        print(f"      {verb:8s} {n / seconds:8.2f} /s")
    by_resource = collections.Counter(f"{e['verb']} {resource_of(e)}" for e in requests)
    print(
        "      by verb and resource: "
        + ", ".join(f"{what} {n / seconds:.2f}/s" for what, n in by_resource.most_common(6))
    )
    print(
        f"  reconcile passes:           {sum(passes.values()) / seconds:8.2f} /s "
        f"{ {dict(k).get('outcome'): round(v) for k, v in passes.items()} }"
    )
    print(
        f"  sidecar probes:             {sum(probes.values()) / seconds:8.2f} /s "
        f"{ {dict(k).get('state'): round(v) for k, v in probes.items()} }"
    )
    print(
        f"  CPU:                        {after.cpu_seconds - before.cpu_seconds:8.2f} s "
        f"in the window ({after.cpu_seconds:.1f} s since start)"
    )
    print(
        f"  RSS:                        {after.rss_mib:8.1f} MiB "
        f"(peak {after.peak_rss_mib:.1f} MiB; target <= {TARGETS['rss_mib_at_1000']:.0f} "
        f"at N=1000)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("taskapis", type=int)
    parser.add_argument("noise_pods", type=int, nargs="?", default=0)
    parser.add_argument("--window", type=float, default=60.0, help="steady window, seconds")
    parser.add_argument("--ready-timeout", type=float, default=600.0)
    parser.add_argument("--noise-timeout", type=float, default=900.0)
    args = parser.parse_args()
    count = args.taskapis

    with tempfile.TemporaryDirectory(prefix="bench-operator-") as tmp:
        workdir = Path(tmp)
        options = dataclasses.replace(
            DaprControlPlane.CLUSTER_OPTIONS, audit_all_requests_of=(USER,)
        )
        say(f"starting the control plane and Dapr (controller API QPS {CLIENT_QPS})")
        with (
            Cluster(workdir / "cluster", options) as cluster,
            DaprControlPlane(cluster, workdir / "dapr") as _dapr,
        ):
            cluster.install_crds([*binaries.dapr_crds(), CRD])
            if args.noise_pods:
                say(f"creating {args.noise_pods} unrelated pods")
                noise_took = create_noise(cluster, args.noise_pods, args.noise_timeout)
                say(f"  {args.noise_pods} noise pods running after {noise_took:.0f}s")
            cluster.kubectl("create", "namespace", NAMESPACE)
            cluster.wait_for_default_serviceaccount(NAMESPACE)
            cluster.kubectl(
                "create",
                "secret",
                "generic",
                "redis",
                "-n",
                NAMESPACE,
                "--from-literal=redis-password=pw",
            )
            cluster.kubectl(
                "create",
                "secret",
                "generic",
                "notification-api-key",
                "-n",
                NAMESPACE,
                "--from-literal=api-key=k",
            )
            env = {
                # production defaults, except the sidecar probe port: nothing listens there
                # (kwok runs no daprd), so probes fail fast and the subscription is Unknown
                "TASKAPI_OPERATOR_RESYNC_INTERVAL_SECONDS": "30",
                "TASKAPI_OPERATOR_PROBE_TIMEOUT_SECONDS": "2",
                "TASKAPI_OPERATOR_REQUEST_TIMEOUT_SECONDS": "30",
                "TASKAPI_OPERATOR_PROBE_PORT": str(free_port()),
            }
            (workdir / "operator").mkdir()
            with running_operator(cluster, workdir / "operator", user=USER, env=env) as operator:
                cluster.wait_for(lambda: operator.get("/readyz")[0] == 200, 60, "operator ready")
                idle = take(operator, cluster)
                say(f"operator idle: RSS {idle.rss_mib:.1f} MiB; creating {count} TaskApis")
                began = time.monotonic()
                create_taskapis(cluster, count)
                say(f"  created in {time.monotonic() - began:.1f}s")
                took = wait_all_ready(cluster, count, began, args.ready_timeout)
                if took is None:
                    say(f"NOT all {count} Ready within {args.ready_timeout:.0f}s")
                else:
                    say(
                        f"all {count} TaskApis Ready {took:.1f}s after the apply "
                        f"(target {TARGETS['ready_seconds_at_1000']:.0f}s at N=1000)"
                    )
                before = take(operator, cluster)
                deadline = time.monotonic() + args.window
                while time.monotonic() < deadline:  # bounded: one window
                    time.sleep(min(5.0, max(0.0, deadline - time.monotonic())))
                    if operator.process.poll() is not None:
                        raise RuntimeError("the operator exited during the window")
                after = take(operator, cluster)
                print(f"\nN={count} TaskApis, {args.noise_pods} noise pods")
                report_window(cluster, count, before, after)


if __name__ == "__main__":
    main()
