"""Applying a TaskApi to the real apiserver: children, labels, ownership; bad specs rejected."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from harness.kube import Cluster
from harness.operator_stack import RunningOperator, apply, get_json, live, sample, wait_for

pytestmark = pytest.mark.integration

ARGO_LABEL = {"app.kubernetes.io/instance": "argo-app-name"}
ARGO_ANNOTATIONS = {
    "argocd.argoproj.io/tracking-id": "apps:taskapi.io/TaskApi:x/y",
    "argocd.argoproj.io/sync-wave": "1",
}


def test_sample_creates_children_with_ownership_labels_annotations_and_env(
    cluster: Cluster, namespace: str, taskapi_operator: RunningOperator
) -> None:
    body = sample()
    body["metadata"]["labels"] = ARGO_LABEL
    body["metadata"]["annotations"] = ARGO_ANNOTATIONS
    apply(cluster, namespace, body)
    deployment = wait_for(
        lambda: get_json(cluster, "deployment", "taskapi-sample", "-n", namespace),
        30,
        "the Deployment",
        taskapi_operator,
    )
    parent = get_json(cluster, "taskapi", "taskapi-sample", "-n", namespace)
    uid = parent["metadata"]["uid"]

    children = {
        "deployment/taskapi-sample": deployment,
        "deployment/managed-fields": get_json(
            cluster, "deployment", "taskapi-sample", "-n", namespace, "--show-managed-fields"
        ),
        "service/taskapi-sample": get_json(cluster, "service", "taskapi-sample", "-n", namespace),
        "serviceaccount/taskapi-sample-taskapi": get_json(
            cluster, "serviceaccount", "taskapi-sample-taskapi", "-n", namespace
        ),
        "rolebinding/taskapi-sample-secret-reader": get_json(
            cluster, "rolebinding", "taskapi-sample-secret-reader", "-n", namespace
        ),
    }
    for store in ("statestore", "pubsub", "secretstore"):
        children[f"component/taskapi-sample-{store}"] = get_json(
            cluster, "components.dapr.io", f"taskapi-sample-{store}", "-n", namespace
        )
    for what, child in children.items():
        meta = child["metadata"]
        owner = meta["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
            "TaskApi",
            "taskapi-sample",
            uid,
            True,
        ), what
        labels = meta["labels"]
        assert labels["app.kubernetes.io/instance"] == "taskapi-sample", what  # not Argo's
        assert labels["app.kubernetes.io/managed-by"] == "taskapi-operator", what
        assert labels["app.kubernetes.io/name"] == "taskapi", what
        assert "app.kubernetes.io/component" in labels, what
        assert not any(k.startswith("argocd.argoproj.io/") for k in meta.get("annotations") or {})
    # One field manager for every write the operator makes.
    managers = {
        m["manager"]
        for m in children["deployment/managed-fields"]["metadata"]["managedFields"]
        if m["operation"] == "Apply"
    }
    assert managers == {"taskapi-operator"}

    template = deployment["spec"]["template"]
    annotations = template["metadata"]["annotations"]
    assert annotations["dapr.io/enabled"] == "true"
    assert annotations["dapr.io/app-id"] == "taskapi-sample"
    assert annotations["dapr.io/app-port"] == "8000"
    assert annotations["dapr.io/enable-api-logging"] == "true"
    assert annotations["dapr.io/log-level"] == "info"
    assert annotations["dapr.io/sidecar-memory-limit"] == "256Mi"
    assert len(annotations["taskapi.io/components-hash"]) == 16
    container = template["spec"]["containers"][0]
    assert "command" not in container
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {
        "TASKAPI_STATE_STORE": "taskapi-sample-statestore",
        "TASKAPI_PUBSUB": "taskapi-sample-pubsub",
        "TASKAPI_TOPIC": "task-events",
        "TASKAPI_DEAD_LETTER_TOPIC": "task-events-deadletter",
        "TASKAPI_SECRET_STORE": "taskapi-sample-secretstore",
        "TASKAPI_NOTIFICATION_APP_ID": "notification-service",
        "TASKAPI_NOTIFICATION_METHOD": "notify",
        "TASKAPI_NOTIFICATION_SECRET": "notification-api-key",
        "TASKAPI_NOTIFICATION_SECRET_KEY": "api-key",
        "TASKAPI_PORT": "8000",
    }
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    statestore = children["component/taskapi-sample-statestore"]
    assert statestore["scopes"] == ["taskapi-sample"]
    assert statestore["spec"]["type"] == "state.redis"
    # No finalizer on the TaskApi: deletion never waits for the operator.
    assert not parent["metadata"].get("finalizers")
    assert live(taskapi_operator.liveness_url)


def _rejected(cluster: Cluster, namespace: str, body: dict[str, Any]) -> str:
    with pytest.raises(subprocess.CalledProcessError) as caught:
        cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(body))
    return str(caught.value.stderr)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda s: s["stateStore"].update(ref={"name": "x"}),
            "stateStore: set exactly one of managed (the operator creates the component) or ref",
        ),
        (lambda s: s.update(pubsub={"topic": "t"}), "pubsub: set exactly one of managed"),
        (
            lambda s: s["stateStore"]["managed"].update(type="pubsub.redis"),
            "stateStore.managed.type must be a Dapr state store type",
        ),
        (
            lambda s: s["stateStore"]["managed"]["metadata"].append(
                {"name": "x", "value": "v", "secretKeyRef": {"name": "s", "key": "k"}}
            ),
            "a component metadata item needs exactly one of value or secretKeyRef",
        ),
        (lambda s: s.update(port=3500), "spec.port collides with a port of the daprd sidecar"),
        (lambda s: s.update(appId="Not_A_Label"), "spec.appId"),
        (
            lambda s: s["pubsub"].update(deadLetterTopic="task-events"),
            "pubsub.deadLetterTopic must differ from pubsub.topic",
        ),
        (lambda s: s.update(replicas=-1), "spec.replicas"),
    ],
)
def test_invalid_specs_are_rejected_at_admission(
    cluster: Cluster, namespace: str, taskapi_crd: object, mutate: Any, expected: str
) -> None:
    body = sample("bad")
    mutate(body["spec"])
    assert expected in _rejected(cluster, namespace, body)


@pytest.mark.parametrize("name", ["9lives", "x" * 51])
def test_names_unfit_for_children_are_rejected(
    cluster: Cluster, namespace: str, taskapi_crd: object, name: str
) -> None:
    message = _rejected(cluster, namespace, sample(name))
    assert "metadata.name must be a DNS label that starts with a letter" in message


def test_explain_teaches_the_spec(cluster: Cluster, taskapi_crd: object) -> None:
    out = cluster.kubectl("explain", "taskapi.spec.stateStore").stdout
    assert "Set exactly one of managed or ref" in out
    assert "managed" in out
    assert "ref" in out
