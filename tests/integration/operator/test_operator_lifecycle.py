"""Drift, spec changes, pause, deletion and a write-free steady state, on a real control plane."""

from __future__ import annotations

import json
import time
import urllib.request
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
NAME = "taskapi-sample"


def deployment(cluster: Cluster, namespace: str) -> dict[str, Any]:
    return get_json(cluster, "deployment", NAME, "-n", namespace)


def exists(cluster: Cluster, namespace: str, kind: str, name: str) -> bool:
    out = cluster.kubectl("get", kind, name, "-n", namespace, "--ignore-not-found", "-o", "name")
    return bool(out.stdout.strip())


def patch_taskapi(cluster: Cluster, namespace: str, patch: dict[str, Any]) -> None:
    cluster.kubectl(
        "patch", "taskapi", NAME, "-n", namespace, "--type=merge", "-p", json.dumps(patch)
    )


def env_of(found: dict[str, Any]) -> dict[str, str]:
    container = found["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e["value"] for e in container["env"]}


def ready(cluster: Cluster, namespace: str) -> bool:
    found = get_json(cluster, "taskapi", NAME, "-n", namespace)
    return condition(found, "Ready").get("status") == "True"


def probe_counters(operator: RunningOperator) -> dict[str, int]:
    with urllib.request.urlopen(operator.liveness_url, timeout=5) as resp:  # noqa: S310
        counters: dict[str, int] = json.loads(resp.read())["reconciler"]
        return counters


def test_drift_deleted_child_recreated_and_hand_edit_restored(
    cluster: Cluster, namespace: str, taskapi_operator: RunningOperator
) -> None:
    apply(cluster, namespace, sample())
    wait_for(lambda: deployment(cluster, namespace), 30, "Deployment", taskapi_operator)
    old_uid = get_json(cluster, "service", NAME, "-n", namespace)["metadata"]["uid"]
    cluster.kubectl("delete", "service", NAME, "-n", namespace)
    wait_for(
        lambda: get_json(cluster, "service", NAME, "-n", namespace)["metadata"]["uid"] != old_uid,
        30,
        "Service recreated",
        taskapi_operator,
    )

    cluster.kubectl("delete", "components.dapr.io", f"{NAME}-pubsub", "-n", namespace)
    wait_for(
        lambda: exists(cluster, namespace, "components.dapr.io", f"{NAME}-pubsub"),
        30,
        "Component recreated",
        taskapi_operator,
    )

    edit = {
        "spec": {
            "replicas": 5,
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "taskapi",
                            "env": [{"name": "TASKAPI_TOPIC", "value": "hand-edited"}],
                        }
                    ]
                }
            },
        }
    }
    cluster.kubectl("patch", "deployment", NAME, "-n", namespace, "-p", json.dumps(edit))

    def restored() -> bool:
        found = deployment(cluster, namespace)
        return found["spec"]["replicas"] == 2 and env_of(found)["TASKAPI_TOPIC"] == "task-events"

    wait_for(restored, 30, "hand edit of the Deployment undone", taskapi_operator)


def test_spec_change_reaches_children_and_rolls_pods_on_component_change(
    cluster: Cluster, namespace: str, taskapi_operator: RunningOperator
) -> None:
    apply(cluster, namespace, sample())
    before = wait_for(lambda: deployment(cluster, namespace), 30, "Deployment", taskapi_operator)
    old_hash = before["spec"]["template"]["metadata"]["annotations"]["taskapi.io/components-hash"]
    body = sample(replicas=3, image="ghcr.io/example/taskapi:0.2.0")
    body["spec"]["stateStore"]["managed"]["metadata"][0]["value"] = "redis-other:6379"
    apply(cluster, namespace, body)

    def propagated() -> dict[str, Any] | None:
        found = deployment(cluster, namespace)
        spec = found["spec"]
        image = spec["template"]["spec"]["containers"][0]["image"]
        return found if (spec["replicas"], image) == (3, "ghcr.io/example/taskapi:0.2.0") else None

    after = wait_for(propagated, 30, "replicas and image on the Deployment", taskapi_operator)
    assert (
        after["spec"]["template"]["metadata"]["annotations"]["taskapi.io/components-hash"]
        != old_hash
    )
    store = get_json(cluster, "components.dapr.io", f"{NAME}-statestore", "-n", namespace)
    assert store["spec"]["metadata"][0] == {"name": "redisHost", "value": "redis-other:6379"}
    found = wait_for(
        lambda: (
            (t := get_json(cluster, "taskapi", NAME, "-n", namespace))["status"].get(
                "observedGeneration"
            )
            == t["metadata"]["generation"]
            and t
        ),
        30,
        "observedGeneration to follow",
        taskapi_operator,
    )
    assert found["metadata"]["generation"] >= 2


def test_pause_stops_child_writes_and_deletion_still_collects_children(
    cluster: Cluster, namespace: str, taskapi_operator: RunningOperator
) -> None:
    apply(cluster, namespace, sample())
    wait_for(lambda: deployment(cluster, namespace), 30, "Deployment", taskapi_operator)
    cluster.kubectl("annotate", "taskapi", NAME, "-n", namespace, "taskapi.io/paused=true")
    wait_for(
        lambda: (
            condition(get_json(cluster, "taskapi", NAME, "-n", namespace), "Ready").get("reason")
            == "Paused"
        ),
        30,
        "Ready reason Paused",
        taskapi_operator,
    )
    patch_taskapi(cluster, namespace, {"spec": {"replicas": 4}})
    cluster.kubectl("delete", "service", NAME, "-n", namespace)
    time.sleep(3 * RESYNC_SECONDS + 1)
    assert deployment(cluster, namespace)["spec"]["replicas"] == 2
    assert not exists(cluster, namespace, "service", NAME)

    cluster.kubectl("annotate", "taskapi", NAME, "-n", namespace, "taskapi.io/paused-")
    wait_for(
        lambda: deployment(cluster, namespace)["spec"]["replicas"] == 4,
        30,
        "replicas 4 after unpause",
        taskapi_operator,
    )
    wait_for(
        lambda: exists(cluster, namespace, "service", NAME), 30, "Service back", taskapi_operator
    )

    # Paused again, then deleted: no finalizer, so deletion does not wait for the operator.
    cluster.kubectl("annotate", "taskapi", NAME, "-n", namespace, "taskapi.io/paused=true")
    cluster.kubectl("delete", "taskapi", NAME, "-n", namespace, "--timeout=20s")
    _children_collected(cluster, namespace, taskapi_operator)


def _children_collected(cluster: Cluster, namespace: str, operator: RunningOperator) -> None:
    children = [
        ("deployment", NAME),
        ("service", NAME),
        ("serviceaccount", f"{NAME}-taskapi"),
        ("rolebinding", f"{NAME}-secret-reader"),
    ]
    children += [
        ("components.dapr.io", f"{NAME}-{s}") for s in ("statestore", "pubsub", "secretstore")
    ]
    wait_for(
        lambda: not any(exists(cluster, namespace, k, n) for k, n in children),
        60,
        "garbage collection of every child",
        operator,
    )


def test_delete_garbage_collects_children(
    cluster: Cluster, namespace: str, taskapi_operator: RunningOperator
) -> None:
    apply(cluster, namespace, sample(replicas=1))
    wait_for(lambda: deployment(cluster, namespace), 30, "Deployment", taskapi_operator)
    cluster.kubectl("delete", "taskapi", NAME, "-n", namespace, "--timeout=20s")
    _children_collected(cluster, namespace, taskapi_operator)


def test_steady_state_reconcile_writes_nothing(
    dapr_namespace: str, dapr_taskapi_operator: RunningOperator
) -> None:
    cluster, namespace, taskapi_operator = (
        dapr_taskapi_operator.cluster,
        dapr_namespace,
        dapr_taskapi_operator,
    )
    create_secrets(cluster, namespace)
    apply(cluster, namespace, sample())
    wait_for(lambda: ready(cluster, namespace), 90, "Ready=True", taskapi_operator)
    assert operator_writes(cluster, taskapi_operator.user, namespace)  # it did create things

    def quiet() -> bool:
        before = len(operator_writes(cluster, taskapi_operator.user, namespace))
        time.sleep(2 * RESYNC_SECONDS + 1)
        return len(operator_writes(cluster, taskapi_operator.user, namespace)) == before

    wait_for(quiet, 60, "the operator to stop writing", taskapi_operator)
    mark = len(operator_writes(cluster, taskapi_operator.user, namespace))
    passes_before = probe_counters(taskapi_operator)["passes"]
    # Force full passes: a metadata change is a watch event, and resyncs keep coming.
    cluster.kubectl("annotate", "taskapi", NAME, "-n", namespace, "example.com/poke=1")
    time.sleep(11)  # > kopf's 10 s probe cache, > several resync intervals
    assert probe_counters(taskapi_operator)["passes"] > passes_before
    writes = operator_writes(cluster, taskapi_operator.user, namespace)[mark:]
    assert writes == [], why_written(cluster, namespace, taskapi_operator, writes)
    assert ready(cluster, namespace)
