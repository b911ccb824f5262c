"""Measures the operator at cluster scale on the real harness, and prints numbers.

A real control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok) with Dapr's
real sentry and sidecar injector; optionally NOISE_PODS unrelated pods first; then the
operator (``python -m taskapi_operator`` with its own defaults: 30 s resync, 60 s Secret
checks, leader election on; only the sidecar probe port is changed) and N TaskApis of 1
replica each, created at once. It prints the seconds until all N are Ready and what the
operator did meanwhile (the first pass), then the same over a steady window that starts once
the longest periodic interval of the operator has passed after the last TaskApi became Ready
and lasts longer than that interval, so every periodic write falls inside it: writes and API
requests by verb and resource (from the apiserver's audit log, which records every request of
the operator's user), passes, sidecar probes, CPU seconds and memory. Every loop is bounded
in count and time. Targets are printed beside the figures, never asserted.

``--user-apply`` creates the N TaskApis as a user does, ``kubectl apply`` of files of 100
one after the other, and times that apply twice: first with no operator running (then the
TaskApis are deleted again), then with the operator started and reconciling what is being
applied. ``--api-qps``/``--api-burst`` set the operator's client-side rate limit (0: none).

    scripts/bench-operator.sh N [NOISE_PODS] [--user-apply] [--api-qps Q] [--api-burst B]
                              [--profile FILE] [--apiserver-profile FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path
from typing import Any

import operator_audit
import operator_load
import user_apply
from operator_load import NAMESPACE, say

from harness import binaries
from harness.dapr_control_plane import DaprControlPlane
from harness.kube import CLIENT_QPS, Cluster
from harness.lifecycle import exit_on_sigterm
from harness.operator_stack import CRD, RunningOperator, running_operator
from harness.ports import free_port
from taskapi_operator.settings import OperatorSettings

USER = "taskapi-operator-bench"
PER_FILE = 100


def default(name: str) -> Any:
    return OperatorSettings.model_fields[name].default


def longest_interval() -> float:
    """The longest period after which the operator does something again by itself: a resync
    turn (jittered) or a Secret re-check."""
    resync = default("resync_interval_seconds") * (1 + default("resync_jitter"))
    return float(max(resync, default("secret_check_seconds")))


def parse() -> argparse.Namespace:
    longest = longest_interval()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("taskapis", type=int)
    parser.add_argument("noise_pods", type=int, nargs="?", default=0)
    parser.add_argument(
        "--window", type=float, default=1.5 * longest, help="steady window, seconds"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=longest,
        help="seconds from the last Ready to the steady window (default: the longest interval)",
    )
    parser.add_argument("--ready-timeout", type=float, default=900.0)
    parser.add_argument("--noise-timeout", type=float, default=900.0)
    parser.add_argument("--user-apply", action="store_true")
    parser.add_argument("--api-qps", type=float, default=default("api_qps"))
    parser.add_argument("--api-burst", type=int, default=default("api_burst"))
    parser.add_argument("--profile", type=Path, help="py-spy collapsed stacks of the first pass")
    parser.add_argument(
        "--apiserver-profile",
        type=Path,
        help="kube-apiserver's CPU profile (pprof) of 60 s of the first pass, from 20 s in",
    )
    parser.add_argument(
        "--operator-from",
        type=Path,
        help="run the operator package of another checkout (its operator/ directory), to "
        "compare commits on the same harness and binaries",
    )
    args = parser.parse_args()
    if args.profile is not None and not operator_load.PY_SPY.exists():
        parser.error(f"--profile needs py-spy: {operator_load.PY_SPY.parent}/pip install py-spy")
    return args


def prepare(cluster: Cluster, noise_pods: int, noise_timeout: float) -> None:
    cluster.install_crds([*binaries.dapr_crds(), CRD])
    if noise_pods:
        say(f"creating {noise_pods} unrelated pods")
        took = operator_load.create_noise(cluster, noise_pods, noise_timeout)
        say(f"  {noise_pods} noise pods running after {took:.0f}s")
    cluster.kubectl("create", "namespace", NAMESPACE)
    cluster.wait_for_default_serviceaccount(NAMESPACE)
    for name, literal in (("redis", "redis-password=pw"), ("notification-api-key", "api-key=k")):
        cluster.kubectl(
            "create", "secret", "generic", name, "-n", NAMESPACE, f"--from-literal={literal}"
        )


def _seconds(each: list[float]) -> str:
    return ", ".join(f"{t:.1f}" for t in each)


@dataclasses.dataclass
class Bench:
    """One run: what it was given, and the summary lines it prints at the end."""

    args: argparse.Namespace
    cluster: Cluster
    files: list[Path] = dataclasses.field(default_factory=list)
    solo_apply: float = 0.0
    summary: list[str] = dataclasses.field(default_factory=list)

    @property
    def count(self) -> int:
        return int(self.args.taskapis)

    def apply_without_operator(self, directory: Path) -> None:
        self.files = user_apply.write_files(directory, NAMESPACE, self.count, PER_FILE)
        say(f"kubectl apply of {self.count} TaskApis in {len(self.files)} files, no operator")
        self.solo_apply, each = user_apply.timed_apply(self.cluster, self.files)
        say(f"  applied in {self.solo_apply:.1f}s (files: {_seconds(each)})")
        user_apply.delete_all(self.cluster, NAMESPACE)

    def first_pass(self, operator: RunningOperator, idle: operator_audit.Sample) -> None:
        """Create the TaskApis (applied as a user does, or all at once) and wait for Ready."""
        began = time.monotonic()
        with (
            operator_load.profiled(operator.process.pid, self.args.profile),
            operator_load.apiserver_profiled(self.cluster, self.args.apiserver_profile),
        ):
            if self.files:
                beside, each = user_apply.timed_apply(self.cluster, self.files)
                say(f"  kubectl apply beside the operator: {beside:.1f}s (files: {_seconds(each)})")
                self.summary.append(
                    f"user kubectl apply of {self.count} in {len(self.files)} files: "
                    f"{self.solo_apply:.1f}s without the operator, {beside:.1f}s beside it "
                    f"({beside / self.solo_apply:.2f}x; target <= 3x)"
                )
            else:
                operator_load.create_taskapis(self.cluster, self.count)
                say(f"  created in {time.monotonic() - began:.1f}s")
            took = operator_load.wait_all_ready(
                self.cluster, self.count, began, self.args.ready_timeout
            )
        done = operator_audit.take(operator, self.cluster)
        target = operator_audit.TARGETS["ready_seconds_at_1000"]
        if took is None:
            line = f"all Ready: NOT within {self.args.ready_timeout:.0f}s"
        else:
            line = f"all Ready: {took:.1f}s after the apply began (target {target:.0f}s at N=1000)"
        say(line)
        self.summary.append(line)
        figures = operator_audit.report_window(
            self.cluster, USER, self.count, (idle, done), "first pass (apply to all Ready)"
        )
        self.summary.append(
            f"first pass: {figures['requests']:.0f} requests "
            f"({figures['requests'] / max(self.count, 1):.1f} per TaskApi), "
            f"CPU {figures['cpu_seconds']:.1f}s"
        )

    def steady(self, operator: RunningOperator) -> None:
        """The steady window, once every periodic interval has passed after the last Ready."""
        settle, window = self.args.settle, self.args.window
        last_ready = operator_load.last_ready_at(self.cluster)
        starts = last_ready + settle
        say(
            f"steady window starts {settle:.0f}s after the last TaskApi became Ready (the "
            f"operator's longest periodic interval is {longest_interval():.0f}s) and lasts "
            f"{window:.0f}s"
        )
        while time.time() < starts:  # bounded: at most --settle seconds
            time.sleep(min(5.0, max(0.0, starts - time.time())))
        before = operator_audit.take(operator, self.cluster)
        deadline = time.monotonic() + window
        while time.monotonic() < deadline:  # bounded: one window
            time.sleep(min(5.0, max(0.0, deadline - time.monotonic())))
            if operator.process.poll() is not None:
                raise RuntimeError("the operator exited during the window")
        after = operator_audit.take(operator, self.cluster)
        late = before.at - last_ready
        title = f"steady window ({late:.0f}s after the last Ready)"
        got = operator_audit.report_window(self.cluster, USER, self.count, (before, after), title)
        self.summary.append(
            f"steady ({late:.0f}s after the last Ready, {window:.0f}s): writes "
            f"{got['writes_per_minute']:.1f}/min (patch taskapis/status "
            f"{got['status_patches_per_minute']:.1f}/min), get secrets "
            f"{got['secret_gets_per_second']:.2f}/s, requests {got['requests_per_second']:.2f}/s, "
            f"RSS {got['rss_mib']:.1f} MiB"
        )


def main() -> None:
    args = parse()
    exit_on_sigterm()
    limit = "none" if args.api_qps <= 0 else f"qps={args.api_qps:g} burst={args.api_burst}"
    with tempfile.TemporaryDirectory(prefix="bench-operator-") as tmp:
        workdir = Path(tmp)
        options = dataclasses.replace(
            DaprControlPlane.CLUSTER_OPTIONS,
            audit_all_requests_of=(USER,),
            profiling=args.apiserver_profile is not None,
        )
        say(f"starting the control plane and Dapr (controller API QPS {CLIENT_QPS})")
        with (
            Cluster(workdir / "cluster", options) as cluster,
            DaprControlPlane(cluster, workdir / "dapr") as _dapr,
        ):
            bench = Bench(args, cluster)
            bench.summary.append(
                f"N={bench.count} TaskApis, {args.noise_pods} noise pods, operator API rate "
                f"limit: {limit}"
            )
            prepare(cluster, args.noise_pods, args.noise_timeout)
            if args.user_apply:
                bench.apply_without_operator(workdir / "apply")
            env = {
                # the operator's defaults, except the sidecar probe port: nothing listens
                # there (kwok runs no daprd), so probes fail fast and the subscription is Unknown
                "TASKAPI_OPERATOR_PROBE_PORT": str(free_port()),
                "TASKAPI_OPERATOR_API_QPS": str(args.api_qps),
                "TASKAPI_OPERATOR_API_BURST": str(args.api_burst),
            }
            if args.operator_from is not None:
                env["PYTHONPATH"] = str(args.operator_from.resolve())
                bench.summary.append(f"operator package from {args.operator_from}")
            (workdir / "operator").mkdir()
            with running_operator(
                cluster, workdir / "operator", user=USER, env=env, test_speed=False
            ) as operator:
                cluster.wait_for(lambda: operator.get("/readyz")[0] == 200, 60, "operator ready")
                idle = operator_audit.take(operator, cluster)
                say(f"operator idle: RSS {idle.rss_mib:.1f} MiB; creating {bench.count} TaskApis")
                bench.first_pass(operator, idle)
                bench.steady(operator)
    print("\nsummary")
    for line in bench.summary:
        print(f"  {line}")


if __name__ == "__main__":
    main()
