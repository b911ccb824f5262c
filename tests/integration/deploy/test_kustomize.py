"""Every kustomization under deploy/ renders with ``kubectl kustomize``, and the apiserver accepts
every rendered object in a server-side dry-run apply (schemas, CEL rules, RBAC objects,
Dapr Components against Dapr's real CRDs, Argo CD Applications against our fixture CRD)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.kube import Cluster

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"
ARGOCD_CRD = REPO / "tests" / "fixtures" / "argocd-application-crd.yaml"
TASKAPI_CRD = REPO / "crds" / "taskapi.yaml"
KUSTOMIZATIONS = sorted(p.parent.name for p in DEPLOY.glob("*/kustomization.yaml"))
# Namespaces the bases name themselves (deploy/samples and deploy/samples-postgresql have
# none: they go where they are applied).
OWN_NAMESPACES = {"operator": "taskapi-system", "default": "taskapi-system", "argocd": "argocd"}


def test_every_base_is_covered() -> None:
    assert KUSTOMIZATIONS == [
        "argocd",
        "crds",
        "default",
        "operator",
        "samples",
        "samples-postgresql",
    ]


def render(cluster: Cluster, base: str) -> list[dict[str, Any]]:
    out = cluster.kubectl("kustomize", str(DEPLOY / base)).stdout
    return [d for d in yaml.safe_load_all(out) if d]


@pytest.fixture(scope="module")
def prepared(cluster: Cluster) -> Cluster:
    """What a real cluster has before these bases are applied: the CRDs they instantiate
    (Dapr's come with the ``cluster`` fixture) and the namespaces they go into."""
    cluster.install_crds([TASKAPI_CRD, ARGOCD_CRD])
    for namespace in set(OWN_NAMESPACES.values()):
        if cluster.kubectl("get", "namespace", namespace, check=False).returncode != 0:
            cluster.kubectl("create", "namespace", namespace)
    return cluster


@pytest.mark.parametrize("base", KUSTOMIZATIONS)
def test_base_renders_and_server_accepts_it(prepared: Cluster, namespace: str, base: str) -> None:
    cluster = prepared
    objects = render(cluster, base)
    assert objects, f"deploy/{base} renders nothing"
    for obj in objects:
        assert obj.get("apiVersion"), obj
        assert obj.get("kind"), obj
        assert obj["metadata"].get("name"), obj
    args = ["apply", "--server-side", "--dry-run=server", "-k", str(DEPLOY / base)]
    if base not in OWN_NAMESPACES and base != "crds":
        args += ["-n", namespace]  # e.g. kubectl apply -k deploy/samples -n taskapi-demo
    result = cluster.kubectl(*args, check=False)
    assert result.returncode == 0, f"deploy/{base} rejected:\n{result.stderr}"
    accepted = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(accepted) == len(objects), result.stdout
    assert all(line.endswith("serverside-applied (server dry run)") for line in accepted), (
        result.stdout
    )
    for obj in objects:
        group = obj["apiVersion"].split("/")[0] if "/" in obj["apiVersion"] else ""
        resource = f"{obj['kind'].lower()}{'.' + group if group else ''}"
        assert any(
            line.startswith(f"{resource}/{obj['metadata']['name']} ") for line in accepted
        ), (resource, result.stdout)


def test_namespaced_objects_land_in_their_namespace(cluster: Cluster) -> None:
    """deploy/operator puts everything namespaced into taskapi-system; Argo CD's objects go to
    argocd; deploy/samples names no namespace, so ``-n`` decides."""
    for base, expected in (("operator", "taskapi-system"), ("argocd", "argocd")):
        for obj in render(cluster, base):
            if obj["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
                assert obj["metadata"].get("namespace") == expected, (base, obj["kind"])
    for obj in render(cluster, "samples"):
        assert "namespace" not in obj["metadata"], obj["kind"]
