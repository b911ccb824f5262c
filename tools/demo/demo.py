"""The main job, locally: the operator managing a TaskApi on a real control plane. On the
real node (the default where the machine allows it: real_demo.py) a kubelet runs the pods; on
the fake node (--fake-node, or where it cannot) the Task API and notification-service run
for real as processes behind the pods kwok stands up.

Run it with scripts/demo.sh (which installs and builds what it needs first). Everything
listens on loopback; Ctrl-C stops every process; a second run starts from scratch.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import signal
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import real_demo

from harness import node
from harness.dapr import write_configuration
from harness.dapr_control_plane import DaprControlPlane
from harness.kube import Cluster
from harness.pods import PodProcesses
from harness.process import Process
from harness.real_stack import start_operator
from harness.redis import RedisServer
from harness.repo import REPO

NAMESPACE = "taskapi-demo"
TASKAPI = "taskapi-sample"
TASKAPI_SELECTOR = f"app.kubernetes.io/instance={TASKAPI}"
NOTIFIER_SELECTOR = "app.kubernetes.io/name=notification-service"
VENV_BIN = Path(sys.executable).parent
SAMPLES = REPO / "deploy" / "samples"


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def show(text: str) -> None:
    for line in text.rstrip().splitlines():
        print(f"    {line}", flush=True)


# -- pieces -------------------------------------------------------------------------------


def apply_samples(cluster: Cluster, redis: RedisServer) -> None:
    """deploy/samples, with Redis pointed at the local server (which has no password)."""
    cluster.kubectl("create", "namespace", NAMESPACE)
    cluster.wait_for_default_serviceaccount(NAMESPACE)
    cluster.kubectl(
        "create", "secret", "generic", "redis", "-n", NAMESPACE, "--from-literal=redis-password="
    )
    rendered = cluster.kubectl("kustomize", str(SAMPLES)).stdout
    rendered = rendered.replace("redis-master:6379", redis.address)
    cluster.kubectl("apply", "-n", NAMESPACE, "-f", "-", input=rendered)


def running_pods(cluster: Cluster, selector: str, count: int) -> list[dict[str, Any]]:
    """Wait until ``count`` pods matching ``selector`` have an IP (kwok assigns them)."""

    def ready() -> list[dict[str, Any]] | None:
        pods = cluster.get_json("pods", "-n", NAMESPACE, "-l", selector)["items"]
        live = [
            p
            for p in pods
            if p["status"].get("podIP") and not p["metadata"].get("deletionTimestamp")
        ]
        return live if len(live) >= count else None

    pods: list[dict[str, Any]] = cluster.wait_for(ready, 120, f"pods {selector}")
    return pods


def http(
    method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(  # noqa: S310 - loopback
        url,
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:  # noqa: S310
            raw = resp.read()
            return resp.status, dict(resp.headers), json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        raw = err.read()
        return err.code, dict(err.headers), json.loads(raw) if raw else None


def taskapi_table(cluster: Cluster) -> str:
    return cluster.kubectl("get", "taskapis", "-n", NAMESPACE).stdout


def conditions(cluster: Cluster) -> str:
    obj = cluster.get_json("taskapi", TASKAPI, "-n", NAMESPACE)
    rows = [f"{'TYPE':<20} {'STATUS':<8} {'REASON':<26} MESSAGE"]
    for cond in obj.get("status", {}).get("conditions", []):
        rows.append(
            f"{cond['type']:<20} {cond['status']:<8} {cond.get('reason', ''):<26} "
            f"{cond.get('message', '')}"
        )
    return "\n".join(rows)


def wait_ready(cluster: Cluster, replicas: int) -> None:
    want = f"{replicas}/{replicas}"

    def ready() -> bool:
        obj = cluster.get_json("taskapi", TASKAPI, "-n", NAMESPACE)
        status = obj.get("status") or {}
        sub = (status.get("subscription") or {}).get("state")
        return bool(
            status.get("ready") == want and status.get("sidecars") == want and sub == "Healthy"
        )

    cluster.wait_for(ready, 180, f"the TaskApi status: {want} pods and sidecars, subscription")


class PodBacker:
    """Keeps one app + daprd running per live pod of the demo's workloads, on the pod's IP:
    pods that appear (scale up, a rollout) get processes, pods that go away lose them."""

    # label selector -> (console script the image runs, env var its app binds with)
    WORKLOADS: ClassVar[dict[str, tuple[str, str]]] = {
        NOTIFIER_SELECTOR: ("notification-service", "NOTIFIER_HOST"),
        TASKAPI_SELECTOR: ("taskapi", "TASKAPI_HOST"),
    }

    def __init__(self, cluster: Cluster, workdir: Path, dapr_config: Path) -> None:
        self.cluster = cluster
        self.workdir = workdir
        self.dapr_config = dapr_config
        self.backed: dict[str, PodProcesses] = {}

    def sync(self) -> None:
        live: set[str] = set()
        for selector, (script, host_var) in self.WORKLOADS.items():
            for pod in self.cluster.get_json("pods", "-n", NAMESPACE, "-l", selector)["items"]:
                name, ip = pod["metadata"]["name"], pod["status"].get("podIP")
                if not ip or pod["metadata"].get("deletionTimestamp"):
                    continue
                live.add(name)
                if name not in self.backed:
                    self.backed[name] = PodProcesses(
                        self.cluster,
                        pod,
                        [str(VENV_BIN / script)],
                        self.workdir,
                        dapr_config=self.dapr_config,
                        extra_env={host_var: ip},
                    ).start()
                    containers = ", ".join(c["name"] for c in pod["spec"]["containers"])
                    show(f"pod {name} (containers {containers}): {script} + daprd on {ip}")
        for name in sorted(set(self.backed) - live):
            self.backed.pop(name).stop()
            show(f"pod {name} is gone: stopped its processes")

    def url_of(self, selector: str) -> str:
        for processes in self.backed.values():
            labels = processes.pod["metadata"].get("labels") or {}
            key, _, value = selector.partition("=")
            if labels.get(key) == value:
                return processes.url
        raise LookupError(f"no running pod for {selector}")

    def stop(self) -> None:
        for processes in self.backed.values():
            processes.stop()
        self.backed.clear()


# -- the walkthrough ----------------------------------------------------------------------


def walkthrough(api: str, notifier: str) -> None:
    say(f"the Task API on pod IP {api}: create, list, complete, delete a task")
    status, headers, task = http("POST", f"{api}/tasks", {"title": "Write the demo", "priority": 2})
    show(f"POST /tasks -> {status}, ETag {headers.get('etag')}: {json.dumps(task)}")
    task_id = task["id"]
    status, _, page = http("GET", f"{api}/tasks")
    show(f"GET /tasks -> {status}: {len(page['items'])} task(s)")
    status, _, done = http("PUT", f"{api}/tasks/{task_id}/status?status=completed")
    show(f"PUT /tasks/{task_id}/status?status=completed -> {status}: status {done['status']}")

    say(
        "the task.completed event goes through Dapr pub/sub (Redis) to the subscription, "
        "which invokes notification-service through Dapr"
    )
    deadline = time.monotonic() + 60
    recorded: list[Any] = []
    while time.monotonic() < deadline and not recorded:
        _, _, recorded = http("GET", f"{notifier}/notifications?task_id={task_id}")
        time.sleep(0.5)
    if not recorded:
        raise RuntimeError("notification-service recorded no notification within 60s")
    show(
        f"notification-service recorded {len(recorded)} notification(s): {json.dumps(recorded[0])}"
    )
    status, _, _ = http("DELETE", f"{api}/tasks/{task_id}")
    show(f"DELETE /tasks/{task_id} -> {status}")
    status, _, problem = http(
        "POST",
        f"{notifier}/notify",
        {
            "event_id": "demo",
            "event_type": "task.completed",
            "task_id": task_id,
            "title": "forged",
            "status": "completed",
            "timestamp": "2026-01-01T00:00:00Z",
        },
        headers={"X-API-Key": "wrong"},
    )
    show(f"POST /notify with a wrong X-API-Key -> {status}: {(problem or {}).get('detail')}")


def print_try_this(cluster: Cluster, api: str, notifier: str) -> None:
    kc = cluster.kubeconfig
    say("try it yourself (Ctrl-C here stops everything):")
    show(f"""\
export KUBECONFIG={kc}
kubectl get taskapis -n {NAMESPACE}
kubectl get taskapi {TASKAPI} -n {NAMESPACE} -o yaml
kubectl get deploy,svc,components.dapr.io,pods -n {NAMESPACE}
kubectl scale taskapi {TASKAPI} -n {NAMESPACE} --replicas=3   # a third pod, backed here too
kubectl annotate taskapi {TASKAPI} -n {NAMESPACE} taskapi.io/paused=true   # pause
curl -s -X POST {api}/tasks -H 'Content-Type: application/json' -d '{{"title":"hello"}}'
curl -s {api}/tasks
curl -s -X PUT '{api}/tasks/<id>/status?status=completed'
curl -s {notifier}/notifications
logs: {cluster.workdir.parent}/pods/*/ (apps, daprd), {cluster.workdir.parent}/operator.log""")


# -- main ---------------------------------------------------------------------------------


def _interrupted(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@dataclass
class Demo:
    """What is running once the stack is up."""

    cluster: Cluster
    operator: Process
    backer: PodBacker
    replicas: int


def start_everything(stack: contextlib.ExitStack, workdir: Path) -> Demo:
    """Steps 1-5: every process is registered on ``stack``, which stops them in reverse."""
    say(
        "starting the local control plane: etcd, kube-apiserver, controller-manager, "
        "scheduler, kwok (a fake node; pod IPs in a 127.N.0.0/16)"
    )
    cluster = stack.enter_context(Cluster(workdir / "cluster", DaprControlPlane.CLUSTER_OPTIONS))
    say(f"pod IPs come from {cluster.pod_cidr}")
    say("installing Dapr: its CRDs, sentry and the sidecar injector (as processes)")
    stack.enter_context(DaprControlPlane(cluster, workdir / "dapr-system"))
    say("installing the TaskApi CRD (deploy/crds)")
    cluster.kubectl("apply", "-k", str(REPO / "deploy" / "crds"))
    cluster.wait_established(["taskapis.taskapi.io"], timeout=120)
    redis = stack.enter_context(RedisServer(workdir / "redis"))
    say(f"redis-server on {redis.address}")

    say(
        "starting the operator as ServiceAccount taskapi-system/taskapi-operator "
        "(RBAC from deploy/operator)"
    )
    operator = start_operator(cluster, workdir)
    stack.callback(operator.stop)

    say(f"applying deploy/samples into namespace {NAMESPACE}")
    apply_samples(cluster, redis)
    replicas = int(cluster.get_json("taskapi", TASKAPI, "-n", NAMESPACE)["spec"]["replicas"])

    say(
        "pods got the real daprd container from Dapr's injector; kwok runs no containers, "
        "so the demo starts each pod's app + daprd itself, on the pod's IP"
    )
    dapr_config = write_configuration(
        workdir / "dapr" / "config.yaml", workdir / "dapr" / "names.db"
    )
    backer = PodBacker(cluster, workdir / "pods", dapr_config)
    stack.callback(backer.stop)
    running_pods(cluster, NOTIFIER_SELECTOR, 1)
    running_pods(cluster, TASKAPI_SELECTOR, replicas)
    backer.sync()
    return Demo(cluster, operator, backer, replicas)


def show_and_walk(demo: Demo) -> tuple[str, str]:
    """Steps 6-7: status as kubectl shows it, then the walkthrough on the real apps."""
    say("waiting for the operator to report the TaskApi ready, with a healthy subscription")
    wait_ready(demo.cluster, demo.replicas)
    say(f"kubectl get taskapis -n {NAMESPACE}")
    show(taskapi_table(demo.cluster))
    say("conditions")
    show(conditions(demo.cluster))
    api = demo.backer.url_of(TASKAPI_SELECTOR)
    notifier = demo.backer.url_of(NOTIFIER_SELECTOR)
    walkthrough(api, notifier)
    say(
        "what this local stack does not show: containers are not run by a kubelet "
        "(kwok only reports them ready), Service ClusterIPs are not routed, and the "
        "sidecars resolve each other through SQLite instead of Kubernetes DNS"
    )
    return api, notifier


def run(workdir: Path, exit_after_walkthrough: bool) -> int:
    # Ctrl-C and SIGTERM both unwind the ExitStack below, which stops every process; set
    # explicitly, since a shell may start a background job with SIGINT ignored.
    signal.signal(signal.SIGINT, _interrupted)
    signal.signal(signal.SIGTERM, _interrupted)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    shown = False
    with contextlib.ExitStack() as stack:
        try:
            demo = start_everything(stack, workdir)
            api, notifier = show_and_walk(demo)
            shown = True  # from here on, Ctrl-C is the expected way to stop
            print_try_this(demo.cluster, api, notifier)
            if exit_after_walkthrough:
                say("--exit-after-walkthrough: stopping everything")
                return 0
            while demo.operator.running():
                demo.backer.sync()  # scaled or rolled pods get (or lose) their processes
                time.sleep(1)
            say(f"the operator exited; see its log: {demo.operator.log_path}")
            return 1
        except KeyboardInterrupt:
            # a second Ctrl-C must not cut the cleanup short: ignore both while it runs
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            say("interrupted: stopping everything")
            return 0 if shown else 130


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--exit-after-walkthrough",
        action="store_true",
        help="stop by itself after the walkthrough (for tests and CI)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=REPO / ".work" / "demo",
        help="where logs, certificates and the kubeconfig go",
    )
    parser.add_argument(
        "--fake-node",
        action="store_true",
        help="run today's fake node (kwok) even where the real node could run",
    )
    args = parser.parse_args()
    if not args.fake_node:
        reason = node.unavailable_reason()
        if not reason:
            say("the real node: a kubelet, containerd and kube-proxy in a network namespace")
            signal.signal(signal.SIGINT, _interrupted)
            signal.signal(signal.SIGTERM, _interrupted)
            shutil.rmtree(args.workdir, ignore_errors=True)
            args.workdir.mkdir(parents=True)
            return real_demo.run(args.workdir, args.exit_after_walkthrough)
        say(f"the real node cannot run here ({reason}): running the fake node (kwok) instead")
    return run(args.workdir, args.exit_after_walkthrough)


if __name__ == "__main__":
    sys.exit(main())
