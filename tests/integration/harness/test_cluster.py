"""The local control plane is real: authentication, RBAC, CRDs, and kwok-run pods."""

from __future__ import annotations

import ipaddress
import json
import ssl
import textwrap
import urllib.error
import urllib.request

import pytest

from harness.kube import Cluster

pytestmark = pytest.mark.integration


def test_apiserver_rejects_anonymous_and_serves_admin(cluster: Cluster) -> None:
    ctx = ssl.create_default_context(cafile=str(cluster.serving_ca.pair.cert))
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{cluster.api_url}/api/v1/namespaces", context=ctx, timeout=5)  # noqa: S310
    assert err.value.code in (401, 403)
    assert "default" in cluster.kubectl("get", "namespaces", "-o", "name").stdout


def test_rbac_is_enforced_for_other_users(cluster: Cluster, namespace: str) -> None:
    alice = cluster.user_kubeconfig("alice")
    denied = cluster.kubectl("get", "pods", "-n", namespace, kubeconfig_path=alice, check=False)
    assert denied.returncode != 0
    assert "forbidden" in denied.stderr.lower()
    cluster.kubectl(
        "create", "role", "pod-reader", "--verb=get,list", "--resource=pods", "-n", namespace
    )
    cluster.kubectl(
        "create", "rolebinding", "alice-reads", "--role=pod-reader", "--user=alice", "-n", namespace
    )
    cluster.wait_for(
        lambda: (
            cluster.kubectl(
                "get", "pods", "-n", namespace, kubeconfig_path=alice, check=False
            ).returncode
            == 0
        ),
        30,
        "alice's RoleBinding to take effect",
    )


def test_serviceaccount_token_kubeconfig(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("create", "serviceaccount", "robot", "-n", namespace)
    robot = cluster.serviceaccount_kubeconfig(namespace, "robot")
    who = cluster.kubectl("auth", "whoami", "-o", "json", kubeconfig_path=robot)
    username = json.loads(who.stdout)["status"]["userInfo"]["username"]
    assert username == f"system:serviceaccount:{namespace}:robot"


def test_crd_becomes_served(cluster: Cluster) -> None:
    cluster.apply_yaml(
        textwrap.dedent("""\
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata: {name: widgets.harness.test}
        spec:
          group: harness.test
          names: {kind: Widget, plural: widgets}
          scope: Namespaced
          versions:
            - name: v1
              served: true
              storage: true
              schema:
                openAPIV3Schema:
                  type: object
                  properties:
                    spec: {type: object, properties: {size: {type: integer}}}
        """)
    )
    cluster.wait_established(["widgets.harness.test"], timeout=30)
    cluster.apply_yaml(
        "apiVersion: harness.test/v1\nkind: Widget\n"
        "metadata: {name: w1, namespace: default}\nspec: {size: 3}\n"
    )
    assert cluster.get_json("widgets.harness.test", "w1", "-n", "default")["spec"]["size"] == 3


def test_two_container_deployment_becomes_ready_with_loopback_ips(
    cluster: Cluster, namespace: str
) -> None:
    cluster.apply_yaml(
        textwrap.dedent("""\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          replicas: 2
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers:
                - {name: app, image: example.invalid/app:1}
                - {name: daprd, image: example.invalid/daprd:1}
        """),
        namespace=namespace,
    )

    def ready_pods() -> list[dict[str, object]] | None:
        pods = cluster.get_json("pods", "-n", namespace, "-l", "app=web")["items"]
        ready = [
            p
            for p in pods
            if p["status"].get("podIP")
            and all(c.get("ready") for c in p["status"].get("containerStatuses", []))
            and len(p["status"].get("containerStatuses", [])) == 2
        ]
        return ready if len(ready) == 2 else None

    pods = cluster.wait_for(ready_pods, 60, "2 pods with 2/2 containers ready")
    pod_network = ipaddress.ip_network(cluster.pod_cidr)
    for pod in pods:
        assert ipaddress.ip_address(pod["status"]["podIP"]) in pod_network
    table = cluster.kubectl("get", "pods", "-n", namespace).stdout
    assert table.count("2/2") == 2
    cluster.kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=30s")


def test_dapr_crds_are_served(cluster: Cluster, namespace: str) -> None:
    cluster.apply_yaml(
        textwrap.dedent("""\
        apiVersion: dapr.io/v1alpha1
        kind: Component
        metadata: {name: statestore}
        spec:
          type: state.redis
          version: v1
          metadata: [{name: redisHost, value: "127.0.0.1:6379"}]
        scopes: [tasks]
        """),
        namespace=namespace,
    )
    component = cluster.get_json("components.dapr.io", "statestore", "-n", namespace)
    assert component["scopes"] == ["tasks"]
