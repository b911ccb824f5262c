"""Status on a real control plane: pods 2/2 with Dapr's real injector, a daprd going unready,
and the reasons shown when Dapr, a Secret or a referenced component is missing."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from harness.kube import Cluster
from harness.operator_stack import (
    RunningOperator,
    apply,
    condition,
    create_secrets,
    get_json,
    sample,
    wait_for,
)

pytestmark = pytest.mark.integration


def taskapi(cluster: Cluster, namespace: str, name: str = "taskapi-sample") -> dict[str, Any]:
    return get_json(cluster, "taskapi", name, "-n", namespace)


def columns(cluster: Cluster, namespace: str) -> list[dict[str, str]]:
    """`kubectl get taskapis` as printed, parsed by its header."""
    lines = cluster.kubectl("get", "taskapis", "-n", namespace).stdout.splitlines()
    header = lines[0].split()
    return [dict(zip(header, line.split(), strict=True)) for line in lines[1:]]


def make_daprd_unready(cluster: Cluster, namespace: str, pod: dict[str, Any]) -> None:
    """What the kubelet reports when daprd's readiness probe fails (kwok has no kubelet)."""
    status = pod["status"]
    for container in status["containerStatuses"]:
        if container["name"] == "daprd":
            container["ready"] = False
    for cond in status["conditions"]:
        if cond["type"] in ("Ready", "ContainersReady"):
            cond["status"] = "False"
            cond["reason"] = "ContainersNotReady"
    patch = {
        "status": {
            "containerStatuses": status["containerStatuses"],
            "conditions": status["conditions"],
        }
    }
    cluster.kubectl(
        "patch",
        "pod",
        pod["metadata"]["name"],
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(patch),
    )


def test_ready_2_of_2_then_an_unready_daprd_shows_in_columns(
    dapr_namespace: str, dapr_taskapi_operator: RunningOperator
) -> None:
    """With Dapr's real injector, kwok pods are app + daprd, both ready."""
    cluster, namespace, taskapi_operator = (
        dapr_taskapi_operator.cluster,
        dapr_namespace,
        dapr_taskapi_operator,
    )
    create_secrets(cluster, namespace)
    apply(cluster, namespace, sample())

    def ready() -> dict[str, Any] | None:
        found = taskapi(cluster, namespace)
        status = found.get("status") or {}
        if (status.get("ready"), status.get("sidecars")) == ("2/2", "2/2") and condition(
            found, "Ready"
        ).get("status") == "True":
            return found
        return None

    found = wait_for(ready, 90, "ready 2/2, sidecars 2/2, Ready=True", taskapi_operator)
    status = found["status"]
    assert status["observedGeneration"] == found["metadata"]["generation"]
    assert [p["ready"] for p in status["pods"]] == ["2/2", "2/2"]
    assert {p["sidecar"] for p in status["pods"]} == {"Ready"}
    # Nothing listens on the kwok pod IPs' probe port: health unknown, which does not block.
    assert status["subscription"]["state"] == "Unknown"
    assert status["subscription"]["pubsub"] == "taskapi-sample-pubsub"
    for kind in ("ComponentsReady", "Available", "SidecarsReady"):
        assert condition(found, kind)["status"] == "True", kind
    [row] = columns(cluster, namespace)
    assert row["NAME"] == "taskapi-sample"
    assert (row["READY"], row["SIDECARS"], row["SUBSCRIPTION"], row["STATUS"]) == (
        "2/2",
        "2/2",
        "Unknown",
        "Ready",
    )
    assert "AGE" in row
    # The scale subresource reads replicas and the selector from status.
    scale = json.loads(
        cluster.kubectl(
            "get",
            "--raw",
            f"/apis/taskapi.io/v1alpha1/namespaces/{namespace}/taskapis/taskapi-sample/scale",
        ).stdout
    )
    assert scale["status"]["replicas"] == 2
    assert "app.kubernetes.io/instance=taskapi-sample" in scale["status"]["selector"]

    pods = get_json(
        cluster, "pods", "-n", namespace, "-l", "app.kubernetes.io/instance=taskapi-sample"
    )["items"]
    for pod in pods:  # the sidecar really comes from Dapr's injector
        assert [c["name"] for c in pod["spec"]["containers"]] == ["taskapi", "daprd"]
        assert pod["spec"]["containers"][1]["image"].startswith("ghcr.io/dapr/daprd:")
    victim = sorted(pods, key=lambda p: p["metadata"]["name"])[0]
    make_daprd_unready(cluster, namespace, victim)

    def degraded() -> dict[str, str] | None:
        [row] = columns(cluster, namespace)
        return row if (row["SIDECARS"], row["STATUS"]) == ("1/2", "SidecarNotReady") else None

    row = wait_for(degraded, 30, "SIDECARS 1/2 and STATUS SidecarNotReady", taskapi_operator)
    assert row["READY"] == "1/2"
    found = taskapi(cluster, namespace)
    ready_cond = condition(found, "Ready")
    assert ready_cond["status"] == "False"
    assert victim["metadata"]["name"] in ready_cond["message"]
    by_name = {p["name"]: p for p in found["status"]["pods"]}
    assert by_name[victim["metadata"]["name"]] == {
        "name": victim["metadata"]["name"],
        "phase": "Running",
        "ready": "1/2",
        "sidecar": "NotReady",
    }
    events = cluster.kubectl(
        "get", "events", "-n", namespace, "--field-selector", "involvedObject.kind=TaskApi"
    ).stdout
    assert "SidecarNotReady" in events


def test_missing_secret_then_missing_sidecar_injector(
    cluster: Cluster, namespace: str, taskapi_operator: RunningOperator
) -> None:
    """The plain cluster has no Dapr control plane: pods come without daprd."""
    apply(cluster, namespace, sample(replicas=1))

    def reason(expected: str) -> Any:
        def check() -> dict[str, Any] | None:
            cond = condition(taskapi(cluster, namespace), "Ready")
            return cond if cond.get("reason") == expected else None

        return check

    cond = wait_for(reason("SecretNotFound"), 60, "Ready reason SecretNotFound", taskapi_operator)
    assert "notification-api-key, redis" in cond["message"]
    create_secrets(cluster, namespace)
    cond = wait_for(
        reason("SidecarNotInjected"), 60, "Ready reason SidecarNotInjected", taskapi_operator
    )
    assert "Dapr sidecar not injected: is Dapr installed in this cluster" in cond["message"]
    [row] = columns(cluster, namespace)
    assert (row["SIDECARS"], row["STATUS"]) == ("0/1", "SidecarNotInjected")


def test_referenced_component_missing_is_named(
    cluster: Cluster, namespace: str, taskapi_operator: RunningOperator
) -> None:
    create_secrets(cluster, namespace)
    apply(cluster, namespace, sample("refs", replicas=0, stateStore={"ref": {"name": "shared"}}))

    def missing() -> dict[str, Any] | None:
        cond = condition(taskapi(cluster, namespace, "refs"), "ComponentsReady")
        return cond if cond.get("reason") == "ComponentNotFound" else None

    cond = wait_for(missing, 60, "ComponentsReady reason ComponentNotFound", taskapi_operator)
    assert "shared not found in namespace" in cond["message"]
    # No component is created for a reference.
    names = get_json(cluster, "components.dapr.io", "-n", namespace)["items"]
    assert "refs-statestore" not in {c["metadata"]["name"] for c in names}


def _ready_true(cluster: Cluster, namespace: str, name: str) -> Any:
    def check() -> dict[str, Any] | None:
        found = taskapi(cluster, namespace, name)
        return found if condition(found, "Ready").get("status") == "True" else None

    return check


def test_stuck_new_replicaset_is_progress_deadline_exceeded_while_old_pods_serve(
    dapr_namespace: str, dapr_taskapi_operator: RunningOperator
) -> None:
    cluster, namespace = dapr_taskapi_operator.cluster, dapr_namespace
    operator = dapr_taskapi_operator
    name = "stuck"
    create_secrets(cluster, namespace)
    apply(cluster, namespace, sample(name))
    wait_for(_ready_true(cluster, namespace, name), 90, "Ready=True", operator)
    # Another manager makes the next pods unschedulable and shortens the deadline: the new
    # ReplicaSet never becomes ready while the old pods keep serving (readyReplicas 2).
    patch = {
        "spec": {
            "progressDeadlineSeconds": 2,
            "template": {"spec": {"nodeSelector": {"taskapi.io/test-nowhere": "true"}}},
        }
    }
    cluster.kubectl(
        "patch",
        "deployment",
        name,
        "-n",
        namespace,
        "--type=strategic",
        "--field-manager=someone-else",
        "-p",
        json.dumps(patch),
    )

    def stuck() -> dict[str, Any] | None:
        found = taskapi(cluster, namespace, name)
        ready = condition(found, "Ready")
        return found if ready.get("reason") == "ProgressDeadlineExceeded" else None

    found = wait_for(stuck, 60, "Ready reason ProgressDeadlineExceeded", operator)
    ready = condition(found, "Ready")
    assert ready["status"] == "False"
    assert found["status"]["readyReplicas"] == 2  # the old pods still serve
    assert "has timed out progressing" in ready["message"]
    assert condition(found, "Available")["status"] == "False"


def test_a_failed_pod_beside_ready_ones_does_not_count(
    dapr_namespace: str, dapr_taskapi_operator: RunningOperator
) -> None:
    cluster, namespace = dapr_taskapi_operator.cluster, dapr_namespace
    operator = dapr_taskapi_operator
    name = "evicted"
    create_secrets(cluster, namespace)
    apply(cluster, namespace, sample(name))
    found = wait_for(_ready_true(cluster, namespace, name), 90, "Ready=True", operator)
    # An evicted pod of this instance: Failed, and (as after an eviction) still listed. It is
    # made Failed before it gets the instance's labels, and its controller is the TaskApi,
    # so that no ReplicaSet adopts it and no node runs it.
    owner = {
        "apiVersion": "taskapi.io/v1alpha1",
        "kind": "TaskApi",
        "name": name,
        "uid": found["metadata"]["uid"],
        "controller": True,
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"{name}-evicted", "namespace": namespace, "ownerReferences": [owner]},
        "spec": {
            "nodeName": "gone-node",
            "containers": [{"name": "taskapi", "image": "x"}, {"name": "daprd", "image": "y"}],
        },
    }
    cluster.kubectl("create", "-f", "-", input=json.dumps(pod))
    failed = {
        "status": {
            "phase": "Failed",
            "reason": "Evicted",
            "message": "The node was low on resource: memory.",
        }
    }
    cluster.kubectl(
        "patch",
        "pod",
        f"{name}-evicted",
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(failed),
    )
    labels = get_json(cluster, "deployment", name, "-n", namespace)["spec"]["template"]["metadata"][
        "labels"
    ]
    cluster.kubectl(
        "label", "pod", f"{name}-evicted", "-n", namespace, *(f"{k}={v}" for k, v in labels.items())
    )
    passes = _passes(operator)
    wait_for(lambda: _passes(operator) > passes + 2, 30, "passes after the Failed pod", operator)
    found = taskapi(cluster, namespace, name)
    assert condition(found, "Ready")["status"] == "True"
    assert found["status"]["sidecars"] == "2/2"
    assert f"{name}-evicted" not in {p["name"] for p in found["status"]["pods"]}


def _passes(operator: RunningOperator) -> int:
    with urllib.request.urlopen(operator.liveness_url, timeout=5) as resp:  # noqa: S310
        return int(json.loads(resp.read())["reconciler"]["passes"])
