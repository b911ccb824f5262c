"""The sample on the real node, as the README installs it on a real cluster: Dapr from its chart,
Redis behind the Service ``redis-master`` with the Secret ``redis`` (what the Bitnami chart
gives), the TaskApi CRD and the operator, and ``kubectl apply -k deploy/samples``. The operator is
either installed by its Helm chart as the README's Install section writes it (two pods, in-cluster,
leader election) or, for a test that wants its log file and no image, a host process under its
own ServiceAccount. The demo and the real-node tests share it.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import yaml

from harness import dapr_chart, documented, operator_chart
from harness.kube import Cluster, ClusterOptions, KubectlError
from harness.node_images import REDIS_IMAGE
from harness.ports import LOOPBACK, free_port
from harness.process import Process
from harness.repo import REPO
from harness.waiting import eventually

NAMESPACE = "taskapi-demo"
TASKAPI = "taskapi-sample"
TASKAPI_SELECTOR = f"app.kubernetes.io/instance={TASKAPI}"
NOTIFIER_SELECTOR = "app.kubernetes.io/name=notification-service"
RESTRICTED_LABEL = "pod-security.kubernetes.io/enforce=restricted"
CRD = REPO / "crds" / "taskapi.yaml"
SAMPLES = REPO / "deploy" / "samples"
INSTALL_DOC = REPO / "docs" / "install.md"
VENV_BIN = Path(sys.executable).parent
# the password from the Secret; nothing persisted; listening on the pod's address (its own netns)
REDIS_ARGS = ["--requirepass", "$(REDIS_PASSWORD)", "--save", "", "--appendonly", "no"]
REDIS_ARGS += ["--protected-mode", "no", "--bind", "0.0.0.0"]  # noqa: S104 - the pod's netns
RESTRICTED = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def redis_manifests(password: str) -> list[dict[str, Any]]:
    """A Redis with the names the Bitnami chart's release "redis" gives the sample."""
    labels = {"app.kubernetes.io/name": "redis", "app.kubernetes.io/instance": "redis"}
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "redis"},
            "type": "Opaque",
            "stringData": {"redis-password": password},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "redis-master", "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "automountServiceAccountToken": False,
                        "containers": [
                            {
                                "name": "redis",
                                "image": REDIS_IMAGE,
                                "imagePullPolicy": "Never",
                                "args": REDIS_ARGS,
                                "env": [
                                    {
                                        "name": "REDIS_PASSWORD",
                                        "valueFrom": {
                                            "secretKeyRef": {
                                                "name": "redis",
                                                "key": "redis-password",
                                            }
                                        },
                                    }
                                ],
                                "ports": [{"name": "redis", "containerPort": 6379}],
                                "readinessProbe": {"tcpSocket": {"port": 6379}, "periodSeconds": 2},
                                "securityContext": RESTRICTED,
                                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                            }
                        ],
                        "volumes": [{"name": "data", "emptyDir": {}}],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "redis-master", "labels": labels},
            "spec": {"selector": labels, "ports": [{"name": "redis", "port": 6379}]},
        },
    ]


def start_operator(cluster: Cluster, workdir: Path) -> Process:
    """The operator, started exactly as its image starts it, as its own ServiceAccount."""
    cluster.kubectl("apply", "-k", str(REPO / "deploy" / "operator"))
    kubeconfig = cluster.serviceaccount_kubeconfig("taskapi-system", "taskapi-operator")
    env = {
        **cluster.env,
        "KUBECONFIG": str(kubeconfig),  # kopf's login and the operator's own client
        "TASKAPI_OPERATOR_LIVENESS_ENDPOINT": f"http://{LOOPBACK}:{free_port()}/healthz",
        "TASKAPI_OPERATOR_RESYNC_INTERVAL_SECONDS": "5",
    }
    return Process(
        "taskapi-operator", [str(VENV_BIN / "taskapi-operator")], workdir / "operator.log", env=env
    ).start()


@dataclass
class RealStack:
    """The real node with Dapr, Redis, the operator and the sample; ``phases`` says how long
    each step took (printed by the demo and the tests)."""

    workdir: Path
    operator_from_chart: bool = False
    cluster: Cluster = field(init=False)
    operator: Process | None = field(init=False, default=None)
    phases: dict[str, float] = field(default_factory=dict)
    _stack: ExitStack = field(default_factory=ExitStack)

    def start(self, say: Any = print) -> Self:
        began = time.monotonic()
        try:
            say("starting etcd, kube-apiserver, controller-manager, scheduler and the real node")
            self.cluster = self._stack.enter_context(
                Cluster(self.workdir / "cluster", ClusterOptions(real_node=True))
            )
            self.phases.update(self.cluster.phase_seconds)
            self.phases["cluster"] = time.monotonic() - began
            say("installing Dapr with its Helm chart into dapr-system")
            self.phases["dapr chart"] = dapr_chart.install(self.cluster, "1.17.0")
            step = time.monotonic()
            if self.operator_from_chart:
                say(f"helm upgrade --install {operator_chart.RELEASE} (the README's Install)")
                operator_chart.install(self.cluster)
            else:
                say("the TaskApi CRD and the operator (a host process, its ServiceAccount)")
                self.cluster.install_crds([CRD])
                self.operator = start_operator(self.cluster, self.workdir)
                self._stack.callback(self.operator.stop)
            self.phases["operator installed"] = time.monotonic() - step
            step = time.monotonic()
            say(f"Redis behind Service redis-master, then deploy/samples into {NAMESPACE}")
            self.cluster.kubectl("create", "namespace", NAMESPACE)
            # the sample's pods (the app, the injected daprd, notification-service, Redis) are
            # admitted under the restricted Pod Security Standard too
            self.cluster.kubectl("label", "namespace", NAMESPACE, RESTRICTED_LABEL)
            self.cluster.wait_for_default_serviceaccount(NAMESPACE)
            password = secrets.token_hex(12)
            self.cluster.apply_yaml(yaml.safe_dump_all(redis_manifests(password)), NAMESPACE)
            if self.operator_from_chart:  # docs/install.md's "Then the sample", as written
                for argv in documented.bash_block(
                    REPO / "docs" / "install.md", "## Then the sample"
                ):
                    documented.run(self.cluster, argv)
            else:
                self.cluster.kubectl("apply", "-k", str(SAMPLES), "-n", NAMESPACE)
            self.phases["Redis + sample applied"] = time.monotonic() - step
            step = time.monotonic()
            say("waiting for the TaskApi to be Ready (2/2 pods, healthy subscription)")
            self.wait_ready(replicas=2)
            self.phases["TaskApi Ready"] = time.monotonic() - step
            step = time.monotonic()
            say("waiting for notification-service (2/2: the app and its daprd)")
            self.wait_notifier()
            self.phases["notification-service Ready"] = time.monotonic() - step
            self.phases["total"] = time.monotonic() - began
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, replicas: int, timeout: float = 240) -> None:
        def ready() -> bool:
            found = self.cluster.get_json("taskapi", TASKAPI, "-n", NAMESPACE)
            status = found.get("status") or {}
            conds = {c["type"]: c for c in status.get("conditions") or []}
            return (
                conds.get("Ready", {}).get("status") == "True"
                and status.get("ready") == f"{replicas}/{replicas}"
                and (status.get("subscription") or {}).get("state") == "Healthy"
            )

        what = f"TaskApi {TASKAPI} Ready"
        eventually(ready, timeout, what, tolerate=(KubectlError,), explain=self.explain, interval=1)

    def wait_notifier(self, timeout: float = 180) -> None:
        def ready() -> bool:
            found = self.cluster.get_json("deployment", "notification-service", "-n", NAMESPACE)
            return (found.get("status") or {}).get("readyReplicas") == 1

        what = "deployment notification-service 1 ready replica"
        eventually(ready, timeout, what, tolerate=(KubectlError,), explain=self.explain, interval=1)

    def explain(self) -> str:
        """What a person would look at when the sample is not Ready: the objects, the events,
        the tail of every container's log and of its previous run (a crash loop's last words)."""
        commands: list[tuple[str, ...]] = [
            ("get", "taskapis,pods", "-n", NAMESPACE, "-o", "wide"),
            ("get", "pods", "-n", "dapr-system", "-o", "wide"),
            ("describe", "taskapi", TASKAPI, "-n", NAMESPACE),
            ("get", "events", "-n", NAMESPACE, "--sort-by=.lastTimestamp"),
        ]
        apps = ((TASKAPI_SELECTOR, "taskapi"), (NOTIFIER_SELECTOR, "notification-service"))
        for selector, app in apps:
            for container in (app, "daprd"):
                logs = ("logs", "-n", NAMESPACE, "-l", selector, "-c", container, "--tail=15")
                commands += [(*logs, "--prefix"), (*logs, "--prefix", "--previous")]
        parts = []
        for args in commands:
            result = self.cluster.kubectl(*args, check=False)
            parts.append(f"$ kubectl {' '.join(args)}\n{(result.stdout + result.stderr)[-2500:]}")
        if self.operator_from_chart:
            parts.append(operator_chart.explain(self.cluster))
        if self.cluster.node is not None:
            parts.append(self.cluster.node.explain())
        return "\n".join(parts)

    def on_stop(self, callback: Any) -> None:
        """Run ``callback`` when the stack stops, before the cluster and the node go (what a
        test started beside the stack, Argo CD say, goes with it)."""
        self._stack.callback(callback)

    def stop(self) -> None:
        self._stack.close()

    def kubectl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return self.cluster.kubectl(*args, timeout=timeout)


CHILD_KINDS = "deployments,services,serviceaccounts,roles,rolebindings,poddisruptionbudgets,"
CHILD_KINDS += "components.dapr.io,resiliencies.dapr.io"


def pod_uids(real: RealStack, *, running: bool = False) -> set[str]:
    """The Task API's pods that are not on their way out (an earlier test's scale-down);
    ``running``: only those in phase Running. What an upgrade or Argo CD must not replace."""
    pods = real.cluster.get_json("pods", "-n", NAMESPACE, "-l", TASKAPI_SELECTOR)["items"]
    return {
        p["metadata"]["uid"]
        for p in pods
        if not p["metadata"].get("deletionTimestamp")
        and (not running or p["status"].get("phase") == "Running")
    }


def children(real: RealStack, name: str = TASKAPI) -> dict[str, dict[str, Any]]:
    """A TaskApi's children (objects it is an owner of) by kind/name: uid, resourceVersion,
    generation; what an upgrade or Argo CD must leave as they are."""
    uid = real.cluster.get_json("taskapi", name, "-n", NAMESPACE)["metadata"]["uid"]
    found = {}
    for item in real.cluster.get_json(CHILD_KINDS, "-n", NAMESPACE)["items"]:
        meta = item["metadata"]
        if any(o["uid"] == uid for o in meta.get("ownerReferences") or []):
            found[f"{item['kind']}/{meta['name']}"] = {
                "uid": meta["uid"],
                "resourceVersion": meta["resourceVersion"],
                "generation": meta.get("generation"),
            }
    return found


READY_REASON = '{.status.ready} {.status.conditions[?(@.type=="Ready")].reason}{"\\n"}'


class StatusWatch:
    """``kubectl get taskapi -w``, every (ready, reason) it printed kept in order: a poll could
    miss a short SidecarNotReady."""

    def __init__(self, stack: RealStack) -> None:
        argv = ["kubectl", f"--kubeconfig={stack.cluster.kubeconfig}", "get", "taskapi", TASKAPI]
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
