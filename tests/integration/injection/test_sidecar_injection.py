"""Real Dapr sidecar injection: Dapr's own sentry and injector against the harness cluster.

A Dapr-annotated Deployment's pods come out of the apiserver with the ``daprd`` container Dapr's
injector writes (ports, probes, env, identity volume); kwok then marks app + daprd ready (2/2).
Without the annotation, or without Dapr's control plane, a pod keeps its one container.
"""

from __future__ import annotations

import base64
import socket
import ssl
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.binaries import REPO
from harness.dapr_control_plane import DaprControlPlane
from harness.kube import Cluster
from harness.ports import LOOPBACK

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
                    "containers": [
                        {
                            "name": "app",
                            "image": "taskapi:test",
                            "ports": [{"name": "http", "containerPort": APP_PORT}],
                        }
                    ],
                },
            },
        },
    }


def _ready_pods(cluster: Cluster, namespace: str, name: str, count: int) -> list[dict[str, Any]]:
    """Wait for ``count`` pods of the Deployment whose every container kwok marked ready."""

    def ready() -> list[dict[str, Any]] | None:
        pods = cluster.get_json("pods", "-n", namespace, "-l", f"app.kubernetes.io/name={name}")[
            "items"
        ]
        done = [
            p
            for p in pods
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
            "dapr-http": 3500,
            "dapr-grpc": 50001,
            "dapr-internal": 50002,
            "dapr-metrics": 9090,
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
            "path": "/v1.0/healthz",
            "port": 3501,
            "scheme": "HTTP",
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


def test_injector_serves_with_a_certificate_sentry_issued_for_its_service(
    dapr_control_plane: DaprControlPlane,
) -> None:
    cluster = dapr_control_plane.cluster
    secret = cluster.get_json("secret", "dapr-trust-bundle", "-n", "dapr-system")
    assert {"ca.crt", "issuer.crt", "issuer.key"} <= set(secret["data"])
    assert base64.b64decode(secret["data"]["ca.crt"]) == dapr_control_plane.trust_anchors
    # the injector itself patched the webhook with sentry's trust anchors
    webhook = cluster.get_json("mutatingwebhookconfiguration", "dapr-sidecar-injector")
    ca_bundle = webhook["webhooks"][0]["clientConfig"]["caBundle"]
    assert base64.b64decode(ca_bundle) == dapr_control_plane.trust_anchors

    tls = ssl.create_default_context(cadata=dapr_control_plane.trust_anchors.decode())
    address = (LOOPBACK, dapr_control_plane.injector_port)
    with (
        socket.create_connection(address, timeout=5) as raw,
        tls.wrap_socket(raw, server_hostname="dapr-sidecar-injector.dapr-system.svc") as conn,
    ):
        cert = conn.getpeercert()
    assert cert is not None
    assert set(cert["subjectAltName"]) == {
        ("DNS", "dapr-sidecar-injector.dapr-system.svc"),
        ("URI", "spiffe://cluster.local/ns/dapr-system/dapr-injector"),
    }


def test_stopped_control_plane_injects_nothing_and_a_restart_injects_again(
    dapr_control_plane: DaprControlPlane, dapr_namespace: str
) -> None:
    cluster = dapr_control_plane.cluster
    dapr_control_plane.stop()
    try:
        _apply(cluster, dapr_namespace, _deployment("while-off", dapr=True))
        (pod,) = _ready_pods(cluster, dapr_namespace, "while-off", 1)
        assert [c["name"] for c in pod["spec"]["containers"]] == ["app"]
    finally:
        dapr_control_plane.start()

    _apply(cluster, dapr_namespace, _deployment("after-restart", dapr=True))
    (pod,) = _ready_pods(cluster, dapr_namespace, "after-restart", 1)
    assert [c["name"] for c in pod["spec"]["containers"]] == ["app", "daprd"]
    assert _readiness(pod) == "2/2"


def test_deployment_rendered_by_the_operator_gets_the_sidecar(
    dapr_control_plane: DaprControlPlane, dapr_namespace: str
) -> None:
    """The operator's own builders, applied as the operator would (children of a real TaskApi)."""
    from taskapi_operator.builders import build_children
    from taskapi_operator.model import TaskApi

    cluster = dapr_control_plane.cluster
    cluster.install_crds([REPO / "crds" / "taskapi.yaml"])
    sample: dict[str, Any] = yaml.safe_load(Path(REPO / "deploy/samples/taskapi.yaml").read_text())
    body = cluster.request(
        "POST", f"/apis/taskapi.io/v1alpha1/namespaces/{dapr_namespace}/taskapis", sample
    )
    children = build_children(TaskApi.from_body(body))
    cluster.apply_yaml(yaml.safe_dump_all(children), namespace=dapr_namespace)
    (deployment,) = [c for c in children if c["kind"] == "Deployment"]
    name = deployment["metadata"]["name"]
    replicas = deployment["spec"]["replicas"]
    labels = deployment["spec"]["selector"]["matchLabels"]
    selector = ",".join(f"{k}={v}" for k, v in labels.items())

    def ready() -> list[dict[str, Any]] | None:
        pods = cluster.get_json("pods", "-n", dapr_namespace, "-l", selector)["items"]
        done = [p for p in pods if _readiness_or_none(p) == "2/2"]
        return done if len(done) == replicas else None

    pods: list[dict[str, Any]] = cluster.wait_for(ready, 60, f"{replicas} pods 2/2 of {name}")
    for pod in pods:
        daprd = pod["spec"]["containers"][-1]
        assert daprd["name"] == "daprd"
        args = daprd["args"]
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert _arg(args, "--app-id") == annotations["dapr.io/app-id"]
        assert _arg(args, "--app-port") == annotations["dapr.io/app-port"]
        # daprd's identity is the pod's ServiceAccount, the one the operator rendered
        assert (
            pod["spec"]["serviceAccountName"]
            == deployment["spec"]["template"]["spec"]["serviceAccountName"]
        )


def _readiness_or_none(pod: dict[str, Any]) -> str | None:
    return _readiness(pod) if pod["status"].get("containerStatuses") else None
