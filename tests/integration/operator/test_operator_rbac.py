"""deploy/operator's RBAC is exactly enough: the operator, under its own ServiceAccount token,
does its whole job, and the apiserver refuses it everything it does not need.

Its own cluster (etcd + kube-apiserver only) with deploy/operator applied by
``kubectl apply -k``, as a user installs it; no other operator acts on this cluster.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness import binaries
from harness.kube import Cluster, ClusterOptions
from harness.operator_stack import (
    CRD,
    REPO,
    apply,
    condition,
    create_secrets,
    get_json,
    running_operator,
    sample,
    wait_for,
)

pytestmark = pytest.mark.integration
NAMESPACE, ACCOUNT = "taskapi-system", "taskapi-operator"
OPERATOR = f"system:serviceaccount:{NAMESPACE}:{ACCOUNT}"
LEASES = "leases.coordination.k8s.io"
SECRET_READER = "taskapi-secret-reader"  # names.SECRET_READER_CLUSTER_ROLE, as a user sees it


@dataclass(frozen=True)
class Installed:
    cluster: Cluster
    kubeconfig: Path  # the operator ServiceAccount's token


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    workdir = tmp_path_factory.mktemp("rbac-cluster")
    with Cluster(workdir / "cluster", ClusterOptions(workloads=False)) as cluster:
        cluster.install_crds([*binaries.dapr_crds(), CRD])
        cluster.kubectl("apply", "-k", str(REPO / "deploy" / "operator"))
        yield Installed(cluster, cluster.serviceaccount_kubeconfig(NAMESPACE, ACCOUNT))


def can_i(installed: Installed, *args: str) -> str:
    """``kubectl auth can-i`` as the operator's ServiceAccount: the first word it prints."""
    result = installed.cluster.kubectl("auth", "can-i", *args, f"--as={OPERATOR}", check=False)
    assert result.returncode in (0, 1), result.stderr
    return result.stdout.split()[0]


DENIED = [
    ("get", "secrets", "--all-namespaces"),
    ("list", "secrets", "--all-namespaces"),
    ("watch", "secrets", "--all-namespaces"),
    ("get", "secrets", "-n", "shop"),
    ("get", "secrets", "-n", NAMESPACE),
    ("get", "secrets", "-n", "kube-system"),
    ("delete", "namespaces"),
    ("create", "namespaces"),
    ("create", "clusterroles"),
    ("create", "clusterrolebindings"),
    ("escalate", "clusterroles"),
    ("create", "roles", "-n", "shop"),
    ("bind", "clusterroles/cluster-admin"),
    ("bind", "clusterroles/admin"),
    ("bind", "clusterroles"),
    ("bind", "roles", "-n", "shop"),
    ("update", "taskapis.taskapi.io", "-n", "shop"),
    ("patch", "taskapis.taskapi.io", "-n", "shop"),
    ("delete", "taskapis.taskapi.io", "-n", "shop"),
    ("create", "pods", "-n", "shop"),
    ("create", "serviceaccounts", "--subresource=token", "-n", "shop"),
    ("impersonate", "users"),
    # leader election: its own Lease in its own namespace, nothing else
    ("update", f"{LEASES}/someone-else", "-n", NAMESPACE),
    ("get", f"{LEASES}/someone-else", "-n", NAMESPACE),
    ("delete", f"{LEASES}/taskapi-operator", "-n", NAMESPACE),
    ("list", LEASES, "-n", NAMESPACE),
    ("create", LEASES, "-n", "shop"),
    ("update", f"{LEASES}/taskapi-operator", "-n", "kube-system"),
    # delete only on the kinds it creates (prune): not on pods, Secrets, ConfigMaps, roles
    ("delete", "pods", "-n", "shop"),
    ("delete", "secrets", "-n", "shop"),
    ("delete", "configmaps", "-n", "shop"),
    ("delete", "roles", "-n", "shop"),
    ("delete", "replicasets.apps", "-n", "shop"),
    ("deletecollection", "deployments.apps", "-n", "shop"),
]
ALLOWED = [
    ("patch", "taskapis.taskapi.io", "--subresource=status", "-n", "shop"),
    ("watch", "taskapis.taskapi.io", "--all-namespaces"),
    ("create", "deployments.apps", "-n", "shop"),
    ("patch", "deployments.apps", "-n", "shop"),
    ("create", "rolebindings", "-n", "shop"),
    ("bind", f"clusterroles/{SECRET_READER}"),
    ("create", "components.dapr.io", "-n", "shop"),
    ("list", "pods", "--all-namespaces"),
    # the managed pub/sub's Resiliency, the PDB of replicas > 1
    ("create", "resiliencies.dapr.io", "-n", "shop"),
    ("patch", "poddisruptionbudgets.policy", "-n", "shop"),
    ("create", LEASES, "-n", NAMESPACE),
    ("get", f"{LEASES}/taskapi-operator", "-n", NAMESPACE),
    ("update", f"{LEASES}/taskapi-operator", "-n", NAMESPACE),
    # prune: delete on exactly the kinds of children (names.CHILD_KINDS)
    ("delete", "deployments.apps", "-n", "shop"),
    ("delete", "services", "-n", "shop"),
    ("delete", "serviceaccounts", "-n", "shop"),
    ("delete", "rolebindings", "-n", "shop"),
    ("delete", "components.dapr.io", "-n", "shop"),
    ("delete", "resiliencies.dapr.io", "-n", "shop"),
    ("delete", "poddisruptionbudgets.policy", "-n", "shop"),
]


@pytest.mark.parametrize("check", DENIED, ids=" ".join)
def test_operator_cannot(installed: Installed, check: tuple[str, ...]) -> None:
    assert can_i(installed, *check) == "no"


@pytest.mark.parametrize("check", ALLOWED, ids=" ".join)
def test_operator_can(installed: Installed, check: tuple[str, ...]) -> None:
    assert can_i(installed, *check) == "yes"


def test_service_account_token_is_refused_secrets_and_other_bindings(
    installed: Installed,
) -> None:
    """The same answers with the operator's real token, and real requests refused."""
    cluster, token = installed.cluster, installed.kubeconfig
    whoami = cluster.kubectl(
        "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}", kubeconfig_path=token
    )
    assert whoami.stdout == OPERATOR
    as_token = cluster.kubectl(
        "auth", "can-i", "get", "secrets", "-A", kubeconfig_path=token, check=False
    )
    assert as_token.stdout.split()[0] == "no"
    listing = cluster.kubectl("get", "secrets", "-A", kubeconfig_path=token, check=False)
    assert listing.returncode != 0
    assert "Forbidden" in listing.stderr
    assert f'User "{OPERATOR}" cannot list resource "secrets"' in listing.stderr
    cluster.kubectl("create", "namespace", "escalation", check=False)
    escalate = cluster.kubectl(
        "create",
        "rolebinding",
        "grab",
        "-n",
        "escalation",
        "--clusterrole=cluster-admin",
        f"--serviceaccount={NAMESPACE}:{ACCOUNT}",
        kubeconfig_path=token,
        check=False,
    )
    assert escalate.returncode != 0
    assert "forbidden" in escalate.stderr
    assert "attempting to grant RBAC permissions not currently held" in escalate.stderr


def _ready_reason(cluster: Cluster, expected: str) -> Any:
    def check() -> dict[str, Any] | None:
        found = condition(get_json(cluster, "taskapi", "taskapi-sample", "-n", "shop"), "Ready")
        return found if found.get("reason") == expected else None

    return check


def test_operator_reconciles_under_its_service_account(
    installed: Installed, tmp_path: Path
) -> None:
    cluster = installed.cluster
    cluster.kubectl("create", "namespace", "shop")
    # The referenced Secrets do not exist, but the operator may not read Secrets: it cannot
    # tell, so it reports no SecretNotFound (and no error).
    with running_operator(
        cluster, tmp_path, user=OPERATOR, kubeconfig=installed.kubeconfig
    ) as operator:
        apply(cluster, "shop", sample())

        def done() -> bool:
            found = get_json(cluster, "taskapi", "taskapi-sample", "-n", "shop")
            # No controller-manager here: the Deployment never gets pods; status still flows.
            return (
                condition(found, "ComponentsReady").get("status") == "True"
                and condition(found, "Available").get("status") is not None
            )

        wait_for(done, 60, "children applied and status written", operator)
        # it leads: it took the leader-election Lease under its own token
        lease = get_json(cluster, "lease", "taskapi-operator", "-n", NAMESPACE)
        assert lease["spec"]["holderIdentity"]
        found = get_json(cluster, "taskapi", "taskapi-sample", "-n", "shop")
        assert found["status"]["observedGeneration"] == found["metadata"]["generation"]
        assert condition(found, "Ready")["reason"] == "PodsNotReady"
        for kind, name in (
            ("deployment", "taskapi-sample"),
            ("service", "taskapi-sample"),
            ("serviceaccount", "taskapi-sample-taskapi"),
            ("components.dapr.io", "taskapi-sample-statestore"),
            ("components.dapr.io", "taskapi-sample-pubsub"),
            ("components.dapr.io", "taskapi-sample-secretstore"),
            ("resiliencies.dapr.io", "taskapi-sample-resiliency"),
            ("poddisruptionbudgets.policy", "taskapi-sample"),  # the sample has 2 replicas
        ):
            assert get_json(cluster, kind, name, "-n", "shop")
        binding = get_json(cluster, "rolebinding", "taskapi-sample-secret-reader", "-n", "shop")
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": SECRET_READER,
        }
        assert cluster.kubectl("get", "roles", "-n", "shop", "-o", "name").stdout == ""
        # The pods' account may get Secrets in its own namespace only.
        pod_account = "--as=system:serviceaccount:shop:taskapi-sample-taskapi"
        assert (
            cluster.kubectl(
                "auth",
                "can-i",
                "get",
                "secrets/notification-api-key",
                "-n",
                "shop",
                pod_account,
            ).stdout.strip()
            == "yes"
        )
        for args in (("list", "secrets", "-n", "shop"), ("get", "secrets", "-n", "default")):
            answer = cluster.kubectl("auth", "can-i", *args, pod_account, check=False)
            assert answer.stdout.split()[0] == "no", args

        # Granting the operator `get secrets` in the namespace turns the check on.
        cluster.kubectl(
            "create",
            "role",
            "taskapi-operator-secrets",
            "-n",
            "shop",
            "--verb=get",
            "--resource=secrets",
        )
        cluster.kubectl(
            "create",
            "rolebinding",
            "taskapi-operator-secrets",
            "-n",
            "shop",
            "--role=taskapi-operator-secrets",
            f"--serviceaccount={NAMESPACE}:{ACCOUNT}",
        )
        cond = wait_for(_ready_reason(cluster, "SecretNotFound"), 30, "SecretNotFound", operator)
        assert "notification-api-key, redis" in cond["message"]
        create_secrets(cluster, "shop")
        wait_for(_ready_reason(cluster, "PodsNotReady"), 30, "secrets found", operator)
        log = operator.log_text()
    # a 403 status, not a port (127.0.0.1:40359) nor the milliseconds of a timestamp (,403])
    assert not re.search(r"(?<![\d,:.])403(?![\d\]])", log)
    assert "forbidden" not in log.lower()
    assert "Traceback" not in log
