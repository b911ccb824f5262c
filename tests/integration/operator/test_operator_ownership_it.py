"""Ownership, prune and write loops on a real control plane: the operator writes only what it
controls, deletes what it no longer wants, and leaves other managers' fields alone."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from harness.kube import Cluster
from harness.operator_stack import (
    RESYNC_SECONDS,
    RunningOperator,
    apply,
    condition,
    create_secrets,
    get_json,
    operator_writes,
    sample,
    wait_for,
    why_written,
)

pytestmark = pytest.mark.integration
WEB = "web"


def exists(cluster: Cluster, namespace: str, kind: str, name: str) -> bool:
    out = cluster.kubectl("get", kind, name, "-n", namespace, "--ignore-not-found", "-o", "name")
    return bool(out.stdout.strip())


def ready_reason(cluster: Cluster, namespace: str, name: str) -> str:
    found = get_json(cluster, "taskapi", name, "-n", namespace)
    return str(condition(found, "Ready").get("reason"))


def _foreign_objects(namespace: str) -> list[dict[str, Any]]:
    """What a namespace may already hold under the names a TaskApi named ``web`` would use."""
    labels = {"app": WEB}
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": f"{WEB}-taskapi", "namespace": namespace},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": f"{WEB}-secret-reader", "namespace": namespace},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "view",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": namespace}],
        },
        # Even one carrying the operator's labels (copied by hand) is not the operator's.
        {
            "apiVersion": "dapr.io/v1alpha1",
            "kind": "Component",
            "metadata": {
                "name": f"{WEB}-statestore",
                "namespace": namespace,
                "labels": {
                    "app.kubernetes.io/managed-by": "taskapi-operator",
                    "app.kubernetes.io/instance": WEB,
                },
            },
            "spec": {"type": "state.in-memory", "version": "v1", "metadata": []},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": WEB, "namespace": namespace},
            "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": WEB, "namespace": namespace},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "web", "image": "nginx"}]},
                },
            },
        },
    ]


FOREIGN_KINDS = {
    "ServiceAccount": "serviceaccount",
    "RoleBinding": "rolebinding",
    "Component": "components.dapr.io",
    "Service": "service",
    "Deployment": "deployment",
}


def test_foreign_objects_with_child_names_are_left_alone(
    cluster: Cluster, namespace: str, taskapi_operator: RunningOperator
) -> None:
    create_secrets(cluster, namespace)
    foreign = _foreign_objects(namespace)
    for obj in foreign:
        cluster.kubectl("create", "-f", "-", input=json.dumps(obj))

    def snapshot() -> dict[str, dict[str, Any]]:
        out = {}
        for obj in foreign:
            live = get_json(
                cluster, FOREIGN_KINDS[obj["kind"]], obj["metadata"]["name"], "-n", namespace
            )
            out[obj["kind"]] = {
                "resourceVersion": live["metadata"]["resourceVersion"],
                "ownerReferences": live["metadata"].get("ownerReferences"),
            }
        return out

    before = snapshot()
    apply(cluster, namespace, sample(WEB))
    wait_for(
        lambda: ready_reason(cluster, namespace, WEB) == "ChildConflict",
        60,
        "Ready reason ChildConflict",
        taskapi_operator,
    )
    time.sleep(3 * RESYNC_SECONDS + 1)  # three resyncs: still nothing written to them
    assert snapshot() == before
    assert all(v["ownerReferences"] is None for v in before.values())
    message = condition(get_json(cluster, "taskapi", WEB, "-n", namespace), "Ready")["message"]
    for obj in foreign:
        assert f"{obj['kind']}/{obj['metadata']['name']} exists" in message, obj["kind"]
    writes = operator_writes(cluster, taskapi_operator.user, namespace)
    assert writes, "the status and an Event at least"
    assert {w.split()[1].split("/")[0] for w in writes} <= {"taskapis", "events"}, writes
    events = cluster.kubectl(
        "get", "events", "-n", namespace, "--field-selector", "reason=ChildConflict", "-o", "json"
    ).stdout
    assert json.loads(events)["items"][0]["type"] == "Warning"

    cluster.kubectl("delete", "taskapi", WEB, "-n", namespace, "--timeout=20s")
    time.sleep(3)  # the garbage collector would act within this, if anything pointed at it
    for obj in foreign:
        assert exists(cluster, namespace, FOREIGN_KINDS[obj["kind"]], obj["metadata"]["name"])


def test_a_taskapi_named_default_leaves_the_default_service_account_alone(
    cluster: Cluster, namespace: str, taskapi_operator: RunningOperator
) -> None:
    """The issue's case: the pods' account is suffixed, so `default` is never bound."""
    wait_for(
        lambda: exists(cluster, namespace, "serviceaccount", "default"),
        30,
        "the namespace's default ServiceAccount",
    )
    before = get_json(cluster, "serviceaccount", "default", "-n", namespace)
    apply(cluster, namespace, sample("default", replicas=0))
    binding = wait_for(
        lambda: get_json(cluster, "rolebinding", "default-secret-reader", "-n", namespace),
        30,
        "the secret-reader RoleBinding",
        taskapi_operator,
    )
    assert binding["subjects"][0]["name"] == "default-taskapi"
    after = get_json(cluster, "serviceaccount", "default", "-n", namespace)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert not after["metadata"].get("ownerReferences")


def test_switching_stores_to_refs_prunes_old_children_only(
    cluster: Cluster, namespace: str, taskapi_operator: RunningOperator
) -> None:
    name = "shop"
    create_secrets(cluster, namespace)
    apply(cluster, namespace, sample(name, replicas=0))
    managed = [
        ("components.dapr.io", f"{name}-statestore"),
        ("components.dapr.io", f"{name}-pubsub"),
        ("components.dapr.io", f"{name}-secretstore"),
        ("resiliencies.dapr.io", f"{name}-resiliency"),  # goes with the managed pub/sub
        ("rolebinding", f"{name}-secret-reader"),
    ]
    wait_for(
        lambda: all(exists(cluster, namespace, k, n) for k, n in managed),
        30,
        "managed components and the RoleBinding",
        taskapi_operator,
    )
    # Someone else's object with the operator's labels but no owner: never pruned.
    lookalike = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": f"{name}-extra",
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/managed-by": "taskapi-operator",
                "app.kubernetes.io/instance": name,
            },
        },
        "spec": {"ports": [{"port": 80}]},
    }
    cluster.kubectl("create", "-f", "-", input=json.dumps(lookalike))
    for ref, kind in (
        ("shared-state", "state.redis"),
        ("shared-pubsub", "pubsub.redis"),
        ("vault", "secretstores.local.env"),
    ):
        metadata = [{"name": "redisHost", "value": "127.0.0.1:6379"}]
        if ref == "shared-state":
            metadata += [
                {"name": "outboxPublishPubsub", "value": "shared-pubsub"},
                {"name": "outboxPublishTopic", "value": "task-events"},
            ]
        component = {
            "apiVersion": "dapr.io/v1alpha1",
            "kind": "Component",
            "metadata": {"name": ref, "namespace": namespace},
            "spec": {"type": kind, "version": "v1", "metadata": metadata},
        }
        cluster.kubectl("create", "-f", "-", input=json.dumps(component))
    body = sample(name, replicas=0)
    body["spec"]["stateStore"] = {"ref": {"name": "shared-state"}}
    body["spec"]["pubsub"] = {"ref": {"name": "shared-pubsub"}, "topic": "task-events"}
    body["spec"]["secretStore"] = {"ref": {"name": "vault"}}
    # replace, not apply: a client-side apply would merge the old `managed` into the new `ref`
    result = cluster.kubectl(
        "replace", "-n", namespace, "-f", "-", input=json.dumps(body), check=False
    )
    assert result.returncode == 0, result.stderr
    # Within one resync of the change (the change itself starts a pass).
    wait_for(
        lambda: not any(exists(cluster, namespace, k, n) for k, n in managed),
        2 * RESYNC_SECONDS + 10,
        "old children pruned",
        taskapi_operator,
    )
    assert exists(cluster, namespace, "service", f"{name}-extra")
    for ref in ("shared-state", "shared-pubsub", "vault"):
        assert exists(cluster, namespace, "components.dapr.io", ref)

    def components_ready() -> dict[str, Any] | None:
        found = get_json(cluster, "taskapi", name, "-n", namespace)
        return found if condition(found, "ComponentsReady").get("status") == "True" else None

    found = wait_for(components_ready, 30, "ComponentsReady with the references", taskapi_operator)
    assert "statestore=shared-state" in condition(found, "ComponentsReady")["message"]
    deletes = [
        w
        for w in operator_writes(cluster, taskapi_operator.user, namespace)
        if w.startswith("delete")
    ]
    assert sorted(deletes) == sorted(
        [f"delete components/{n}" for k, n in managed if k.startswith("components")]
        + [f"delete resiliencies/{name}-resiliency", f"delete rolebindings/{name}-secret-reader"]
    )


def test_a_referenced_state_store_without_outbox_metadata_is_reported(
    cluster: Cluster, namespace: str, taskapi_operator: RunningOperator
) -> None:
    create_secrets(cluster, namespace)
    component = {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "plain-state", "namespace": namespace},
        "spec": {
            "type": "state.redis",
            "version": "v1",
            "metadata": [{"name": "redisHost", "value": "127.0.0.1:6379"}],
        },
    }
    cluster.kubectl("create", "-f", "-", input=json.dumps(component))
    apply(
        cluster,
        namespace,
        sample("outbox", replicas=0, stateStore={"ref": {"name": "plain-state"}}),
    )
    wait_for(
        lambda: ready_reason(cluster, namespace, "outbox") == "OutboxNotConfigured",
        60,
        "Ready reason OutboxNotConfigured",
        taskapi_operator,
    )
    cond = condition(get_json(cluster, "taskapi", "outbox", "-n", namespace), "ComponentsReady")
    assert "plain-state lacks the outbox metadata outboxPublishPubsub" in cond["message"]
    component["spec"]["metadata"] += [
        {"name": "outboxPublishPubsub", "value": "p"},
        {"name": "outboxPublishTopic", "value": "t"},
    ]
    cluster.kubectl("apply", "-f", "-", input=json.dumps(component))
    wait_for(
        lambda: ready_reason(cluster, namespace, "outbox") != "OutboxNotConfigured",
        2 * RESYNC_SECONDS + 20,
        "outbox condition cleared",
        taskapi_operator,
    )


def test_foreign_env_var_is_left_alone_and_causes_no_writes(
    cluster: Cluster, namespace: str, taskapi_operator: RunningOperator
) -> None:
    name = "envs"
    create_secrets(cluster, namespace)
    apply(cluster, namespace, sample(name, replicas=1))
    wait_for(
        lambda: get_json(cluster, "deployment", name, "-n", namespace),
        30,
        "Deployment",
        taskapi_operator,
    )
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "taskapi", "env": [{"name": "INJECTED_BY_POLICY", "value": "1"}]}
                    ]
                }
            }
        }
    }
    cluster.kubectl(
        "patch",
        "deployment",
        name,
        "-n",
        namespace,
        "--type=strategic",
        "--field-manager=policy-engine",
        "-p",
        json.dumps(patch),
    )
    mark = len(operator_writes(cluster, taskapi_operator.user, namespace))

    def quiet() -> bool:
        before = len(operator_writes(cluster, taskapi_operator.user, namespace))
        time.sleep(2 * RESYNC_SECONDS + 1)
        return len(operator_writes(cluster, taskapi_operator.user, namespace)) == before

    wait_for(
        quiet, 60, "the operator to stop writing (the new pod's status settles)", taskapi_operator
    )
    settled = len(operator_writes(cluster, taskapi_operator.user, namespace))
    time.sleep(3 * RESYNC_SECONDS + 1)
    writes = operator_writes(cluster, taskapi_operator.user, namespace)
    assert writes[settled:] == [], (
        why_written(  # three resyncs, 0 writes
            cluster, namespace, taskapi_operator, writes[settled:]
        )
    )
    assert not [w for w in writes[mark:] if "deployments" in w]  # the child never rewritten
    env = get_json(cluster, "deployment", name, "-n", namespace)["spec"]["template"]["spec"][
        "containers"
    ][0]["env"]
    assert {"name": "INJECTED_BY_POLICY", "value": "1"} in env
    assert {"name": "TASKAPI_TOPIC", "value": "task-events"} in env


def test_scaling_to_one_replica_prunes_the_disruption_budget(
    cluster: Cluster, namespace: str, taskapi_operator: RunningOperator
) -> None:
    name = "budget"
    create_secrets(cluster, namespace)
    apply(cluster, namespace, sample(name, replicas=2))
    wait_for(
        lambda: exists(cluster, namespace, "poddisruptionbudget", name),
        30,
        "the PodDisruptionBudget of 2 replicas",
        taskapi_operator,
    )
    cluster.kubectl("scale", "taskapi", name, "-n", namespace, "--replicas=1")
    wait_for(
        lambda: not exists(cluster, namespace, "poddisruptionbudget", name),
        2 * RESYNC_SECONDS + 10,
        "the PodDisruptionBudget pruned at 1 replica",
        taskapi_operator,
    )
    deletes = [
        w
        for w in operator_writes(cluster, taskapi_operator.user, namespace)
        if w.startswith("delete")
    ]
    assert deletes == [f"delete poddisruptionbudgets/{name}"]
