"""What the operator did over a window of the operator benchmark: its API requests by verb
and resource (from the apiserver's audit log, which records every request of the operator's
user), writes, reconcile passes, sidecar probes, CPU seconds and memory."""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from harness.kube import Cluster
from harness.operator_stack import RunningOperator

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
TARGETS = {
    "ready_seconds_at_1000": 180.0,
    "writes_per_minute": 0.0,
    "requests_per_second_per_taskapi": 0.05,
    "rss_mib_at_1000": 250.0,
}

Labels = tuple[tuple[str, str], ...]
MetricKey = tuple[str, Labels]


@dataclasses.dataclass
class Sample:
    at: float  # wall clock
    cpu_seconds: float
    rss_mib: float
    peak_rss_mib: float
    metrics: dict[MetricKey, float]
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


def scrape(operator: RunningOperator) -> dict[MetricKey, float]:
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
    """The requests the audit log holds received inside the window, one per auditID: every
    request of the operator's and every user's writes (the audit policy's two rules). One
    read of a log that reaches tens of MB in a mass create; callers filter it."""
    assert cluster.audit_log is not None
    seen: dict[str, dict[str, Any]] = {}
    if cluster.audit_log.stat().st_size < before.audit_offset:
        raise RuntimeError(
            f"{cluster.audit_log} was rotated during the window: its requests cannot be counted"
        )
    with cluster.audit_log.open("rb") as log:
        log.seek(before.audit_offset)
        for raw in log:
            try:
                event = json.loads(raw)
            except ValueError:
                continue  # a line still being written at the window's end
            received = datetime.fromisoformat(
                event["requestReceivedTimestamp"].replace("Z", "+00:00")
            ).timestamp()
            if before.at <= received < after.at:
                seen[event["auditID"]] = event
    return list(seen.values())


def _user(event: dict[str, Any]) -> str:
    return str((event.get("user") or {}).get("username", "?"))


def resource_of(event: dict[str, Any]) -> str:
    ref = event.get("objectRef") or {}
    sub = ref.get("subresource")
    return f"{ref.get('resource', '?')}{'/' + sub if sub else ''}"


def report_window(
    cluster: Cluster, user: str, count: int, window: tuple[Sample, Sample], title: str
) -> dict[str, float]:
    """Print the window's figures; return the ones the summary repeats."""
    before, after = window
    seconds = after.at - before.at
    audited = audited_requests(cluster, before, after)
    requests = [e for e in audited if _user(e) == user]
    by_verb = collections.Counter(e["verb"] for e in requests)
    writes = [e for e in requests if e["verb"] in WRITE_VERBS and resource_of(e) != "leases"]
    lease_writes = [e for e in requests if e["verb"] in WRITE_VERBS and resource_of(e) == "leases"]
    total = len(requests)
    non_lease = total - sum(1 for e in requests if resource_of(e) == "leases")
    probes = metric_delta(before, after, "taskapi_operator_probe_results_total")
    passes = metric_delta(before, after, "taskapi_operator_reconcile_passes_total")
    throttled = metric_delta(before, after, "taskapi_operator_api_throttled_seconds_total")
    burst = metric_delta(before, after, "taskapi_operator_burst_wait_seconds_total")
    per_minute = 60 / seconds
    print(f"\n{title}: {seconds:.0f}s")
    print(
        f"  operator writes:            {len(writes) * per_minute:8.1f} /min "
        f"(target {TARGETS['writes_per_minute']:.0f} in a steady state; Lease renewals apart: "
        f"{len(lease_writes) * per_minute:.0f}/min)"
    )
    by_write = collections.Counter(f"{e['verb']} {resource_of(e)}" for e in writes)
    for what, n in by_write.most_common(8):
        print(f"      {what}: {n} ({n * per_minute:.1f}/min, {n / max(count, 1):.2f} per TaskApi)")
    print(
        f"  API requests (audit):       {total / seconds:8.2f} /s, {total} in all "
        f"({non_lease / seconds / max(count, 1):.4f} /s per TaskApi without the Lease, "
        f"target {TARGETS['requests_per_second_per_taskapi']} in a steady state)"
    )
    for verb, n in by_verb.most_common():
        print(f"      {verb:8s} {n / seconds:8.2f} /s")
    by_resource = collections.Counter(f"{e['verb']} {resource_of(e)}" for e in requests)
    print(
        "      by verb and resource: "
        + ", ".join(f"{what} {n / seconds:.2f}/s ({n})" for what, n in by_resource.most_common(10))
    )
    print(
        f"  reconcile passes:           {sum(passes.values()) / seconds:8.2f} /s "
        f"{ {dict(k).get('outcome'): round(v) for k, v in passes.items()} }"
    )
    print(
        f"  sidecar probes:             {sum(probes.values()) / seconds:8.2f} /s "
        f"{ {dict(k).get('state'): round(v) for k, v in probes.items()} }"
    )
    print(f"  waited for the rate limit:  {sum(throttled.values()):8.1f} s (summed over requests)")
    print(f"  waited for a burst's end:   {sum(burst.values()):8.1f} s (summed over first passes)")
    everyone = [e for e in audited if e["verb"] in WRITE_VERBS]
    by_user = collections.Counter(_user(e) for e in everyone)
    print(
        f"  cluster writes (every user): {len(everyone) / max(count, 1):7.1f} per TaskApi: "
        + ", ".join(f"{u} {n}" for u, n in by_user.most_common(6))
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
    return {
        "writes_per_minute": len(writes) * per_minute,
        "status_patches_per_minute": by_resource["patch taskapis/status"] * per_minute,
        "secret_gets_per_second": by_resource["get secrets"] / seconds,
        "requests_per_second": total / seconds,
        "requests": float(total),
        "rss_mib": after.rss_mib,
        "cpu_seconds": after.cpu_seconds - before.cpu_seconds,
    }
