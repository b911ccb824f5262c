"""The operator installed on the real node as the README's Install section writes it: the
namespace with the restricted Pod Security Standard enforced, then ``helm upgrade --install``
of ``deploy/helm/taskapi-operator`` with ``--wait``. Its pods run the operator image from
scripts/images.sh (loaded into the node, never pulled), in-cluster, as their ServiceAccount.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from harness import documented
from harness.repo import REPO

if TYPE_CHECKING:
    from harness.kube import Cluster

NAMESPACE = "taskapi-system"
RELEASE = "taskapi-operator"
SELECTOR = "app.kubernetes.io/name=taskapi-operator"


def readme_commands() -> list[list[str]]:
    """The README's Install commands that install the operator (those before the sample's
    ``kubectl apply``), read from the README itself so the two cannot drift apart."""
    commands = documented.bash_block(REPO / "README.md", "## Install")
    operator = [argv for argv in commands if NAMESPACE in argv]
    if len(operator) != 3 or operator[-1][:3] != ["helm", "upgrade", "--install"]:
        raise RuntimeError(f"the README's Install block changed shape: {operator}")
    return operator


def install(cluster: Cluster, timeout: float = 240) -> float:
    """Run the README's commands; returns the seconds until the release's pods are ready
    (helm's ``--wait``)."""
    began = time.monotonic()
    for argv in readme_commands():
        extra = [f"--timeout={int(timeout)}s"] if argv[0] == "helm" else []
        try:
            documented.run(cluster, argv, *extra, timeout=timeout + 30)
        except RuntimeError as err:
            raise RuntimeError(
                f"the operator's install failed: {err}\n{explain(cluster)}"
            ) from None
    return time.monotonic() - began


def explain(cluster: Cluster) -> str:
    """The operator's pods, events and log tails: what the README's troubleshooting reads."""
    parts = []
    for args in (
        ("get", "pods,deploy,lease", "-n", NAMESPACE, "-o", "wide"),
        ("get", "events", "-n", NAMESPACE, "--sort-by=.lastTimestamp"),
        ("logs", "-n", NAMESPACE, "-l", SELECTOR, "--tail=20", "--prefix"),
        ("logs", "-n", NAMESPACE, "-l", SELECTOR, "--tail=20", "--prefix", "--previous"),
    ):
        result = cluster.kubectl(*args, check=False)
        parts.append(f"$ kubectl {' '.join(args)}\n{(result.stdout + result.stderr)[-2500:]}")
    return "\n".join(parts)


def leader_passes(cluster: Cluster) -> float:
    """The reconcile passes the Lease's holder has made (its /metrics through the apiserver's
    pod proxy); 0 while nobody holds the Lease (an old leader releases it on its way out,
    before a new one takes it)."""
    lease = cluster.get_json("lease", "taskapi-operator", "-n", NAMESPACE)
    holder = lease["spec"].get("holderIdentity")
    if not holder:
        return 0.0
    raw = cluster.kubectl(
        "get", "--raw", f"/api/v1/namespaces/{NAMESPACE}/pods/{holder}:8080/proxy/metrics"
    )
    return sum(
        float(line.split()[-1])
        for line in raw.stdout.splitlines()
        if line.startswith("taskapi_operator_reconcile_passes_total{")
    )
