"""deploy/operator/rbac.yaml's ClusterRole is enough: the operator does its whole job with it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from operator_it import (
    REPO,
    apply,
    condition,
    create_secrets,
    get_json,
    running_operator,
    sample,
    wait_for,
)

from harness import binaries
from harness.kube import Cluster, ClusterOptions

pytestmark = pytest.mark.integration
RBAC = REPO / "deploy" / "operator" / "rbac.yaml"
USER = "taskapi-operator-least-privilege"


@pytest.fixture
def bare_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """etcd + kube-apiserver only: its own cluster, so no other operator acts on it."""
    with Cluster(tmp_path / "cluster", ClusterOptions(workloads=False)) as cluster:
        cluster.install_crds(binaries.dapr_crds())
        yield cluster


def test_operator_works_with_only_its_cluster_role(bare_cluster: Cluster, tmp_path: Path) -> None:
    cluster = bare_cluster
    role = next(d for d in yaml.safe_load_all(RBAC.read_text()) if d["kind"] == "ClusterRole")
    cluster.apply_yaml(yaml.safe_dump(role))
    cluster.kubectl(
        "create",
        "clusterrolebinding",
        "operator-under-test",
        f"--clusterrole={role['metadata']['name']}",
        f"--user={USER}",
    )
    cluster.kubectl("create", "namespace", "shop")
    create_secrets(cluster, "shop")
    with running_operator(cluster, tmp_path, user=USER, groups=()) as operator:
        apply(cluster, "shop", sample())

        def done() -> bool:
            found = get_json(cluster, "taskapi", "taskapi-sample", "-n", "shop")
            # No controller-manager here: the Deployment never gets pods; status still flows.
            return (
                condition(found, "ComponentsReady").get("status") == "True"
                and condition(found, "Available").get("status") is not None
            )

        wait_for(done, 60, "children applied and status written", operator)
        for kind, name in (
            ("deployment", "taskapi-sample"),
            ("service", "taskapi-sample"),
            ("role", "taskapi-sample-secret-reader"),
            ("rolebinding", "taskapi-sample-secret-reader"),
            ("components.dapr.io", "taskapi-sample-pubsub"),
        ):
            assert get_json(cluster, kind, name, "-n", "shop")
        log = operator.log_text()
    assert "403" not in log
    assert "forbidden" not in log.lower()
