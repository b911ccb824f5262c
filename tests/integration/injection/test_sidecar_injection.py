"""Real Dapr sidecar injection: Dapr's own sentry and injector against the harness cluster.

A Dapr-annotated Deployment's pods come out of the apiserver with the ``daprd`` container Dapr's
injector writes (ports, probes, env, identity volume); kwok then marks app + daprd ready (2/2).
Without the annotation, or without Dapr's control plane, a pod keeps its one container.
"""

from __future__ import annotations

from typing import Any

import pytest

from harness.dapr_control_plane import DaprControlPlane
from harness.kube import Cluster

pytestmark = pytest.mark.integration

APP_PORT = 8000


def _deployment(name: str, *, dapr: bool, replicas: int = 1) -> dict[str, Any]:
    annotations = (
        {"dapr.io/enabled": "true", "dapr.io/app-id": name, "dapr.io/app-port": str(APP_PORT)}
        if dapr
        else {}
    )
    labels = {"app.kubernetes.io/name": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels, "annotations": annotations},
                "spec": {
                    "containers": [{
                        "name": "app",
                        "image": "taskapi:test",
                        "ports": [{"name": "http", "containerPort": APP_PORT}],
                    }],
                },
            },
        },
    }


def _ready_pods(cluster: Cluster, namespace: str, name: str, count: int) -> list[dict[str, Any]]:
    """Wait for ``count`` pods of the Deployment whose every container kwok marked ready."""

    def ready() -> list[dict[str, Any]] | None:
        pods = cluster.get_json(
            "pods", "-n", namespace, "-l", f"app.kubernetes.io/name={name}"
        )["items"]
        done = [
            p for p in pods
            if p["status"].get("containerStatuses")
            and all(s["ready"] for s in p["status"]["containerStatuses"])
        ]
        return done if len(done) == count else None

    pods: list[dict[str, Any]] = cluster.wait_for(ready, 60, f"{count} ready pod(s) of {name}")
    return pods


def _apply(cluster: Cluster, namespace: str, manifest: dict[str, Any]) -> None:
    cluster.request("POST", f"/apis/apps/v1/namespaces/{namespace}/deployments", manifest)


def _readiness(pod: dict[str, Any]) -> str:
    statuses = pod["status"]["containerStatuses"]
    return f"{sum(s['ready'] for s in statuses)}/{len(pod['spec']['containers'])}"


def _arg(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


def test_annotated_deployment_gets_the_real_daprd_sidecar_and_is_2_of_2(
    dapr_control_plane: DaprControlPlane, dapr_namespace: str
) -> None:
    cluster = dapr_control_plane.cluster
    _apply(cluster, dapr_namespace, _deployment("taskapi", dapr=True, replicas=2))

    pods = _ready_pods(cluster, dapr_namespace, "taskapi", 2)

    for pod in pods:
        assert [c["name"] for c in pod["spec"]["containers"]] == ["app", "daprd"]
        assert _readiness(pod) == "2/2"
        daprd = pod["spec"]["containers"][1]
        assert daprd["image"] == f"ghcr.io/dapr/daprd:{dapr_control_plane.version}"
        assert {p["name"]: p["containerPort"] for p in daprd["ports"]} == {
            "dapr-http": 3500, "dapr-grpc": 50001, "dapr-internal": 50002, "dapr-metrics": 9090,
        }
        args = daprd["args"]
        assert args[0] == "/daprd"
        assert _arg(args, "--mode") == "kubernetes"
        assert _arg(args, "--app-id") == "taskapi"
        assert _arg(args, "--app-port") == str(APP_PORT)
        assert _arg(args, "--dapr-public-port") == "3501"
        assert _arg(args, "--sentry-address") == "dapr-sentry.dapr-system.svc.cluster.local:443"
        assert "--enable-mtls" in args
        # the public port 3501 serves the probes (and the metadata API the operator reads)
        assert daprd["readinessProbe"]["httpGet"] == {
            "path": "/v1.0/healthz", "port": 3501, "scheme": "HTTP",
        }
        assert daprd["livenessProbe"]["tcpSocket"] == {"port": 3501}
        env = {e["name"]: e for e in daprd["env"]}
        assert env["NAMESPACE"]["value"] == dapr_namespace
        assert env["DAPR_CONTROLPLANE_NAMESPACE"]["value"] == dapr_control_plane.namespace
        # sentry's CA (from the dapr-trust-bundle it generated), handed over by the injector
        assert env["DAPR_TRUST_ANCHORS"]["value"].encode() == dapr_control_plane.trust_anchors
        assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
        # the projected ServiceAccount token daprd shows sentry, as in a real cluster
        mounts = {m["name"]: m["mountPath"] for m in daprd["volumeMounts"]}
        assert mounts["dapr-identity-token"] == "/var/run/secrets/dapr.io/sentrytoken"
        volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
        token = volumes["dapr-identity-token"]["projected"]["sources"][0]["serviceAccountToken"]
        assert token["audience"] == "spiffe://cluster.local/ns/dapr-system/dapr-sentry"
        # kwok hands out loopback pod IPs only
        assert pod["status"]["podIP"].startswith("127.")

    deployment = cluster.get_json("deployment", "taskapi", "-n", dapr_namespace)
    assert deployment["status"].get("readyReplicas") == 2


def test_pod_without_the_annotation_gets_no_sidecar(
    dapr_control_plane: DaprControlPlane, dapr_namespace: str
) -> None:
    cluster = dapr_control_plane.cluster
    _apply(cluster, dapr_namespace, _deployment("plain", dapr=False))

    (pod,) = _ready_pods(cluster, dapr_namespace, "plain", 1)

    assert [c["name"] for c in pod["spec"]["containers"]] == ["app"]
    assert _readiness(pod) == "1/1"


def test_without_dapr_control_plane_an_annotated_pod_has_one_container(
    cluster: Cluster, namespace: str
) -> None:
    _apply(cluster, namespace, _deployment("taskapi", dapr=True))

    (pod,) = _ready_pods(cluster, namespace, "taskapi", 1)

    assert [c["name"] for c in pod["spec"]["containers"]] == ["app"]
    assert _readiness(pod) == "1/1"
    assert pod["metadata"]["annotations"]["dapr.io/enabled"] == "true"
