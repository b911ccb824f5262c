"""Pod settings, PDB, Resiliency and outbox metadata: the rules the golden files do not show."""

from __future__ import annotations

from typing import Any

import pytest
from operator_fixtures import podspec_body, refs_body, sample_body, served

from taskapi_operator import names
from taskapi_operator.builders import build_children
from taskapi_operator.builders.pod import shutdown_plan
from taskapi_operator.model import TaskApi


def _children(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["kind"]: c for c in build_children(TaskApi.from_body(body))}


def _pod_template(body: dict[str, Any]) -> dict[str, Any]:
    template: dict[str, Any] = _children(body)["Deployment"]["spec"]["template"]
    return template


@pytest.mark.parametrize(
    ("grace", "pre_stop", "graceful"),
    [(30, 5, 23), (60, 5, 53), (20, 5, 13), (19, 0, 17), (3, 0, 1), (1, 0, 1)],
)
def test_grace_period_is_split_between_prestop_and_dapr_draining(
    grace: int, pre_stop: int, graceful: int
) -> None:
    plan = shutdown_plan(grace)
    assert (plan.pre_stop_seconds, plan.graceful_seconds) == (pre_stop, graceful)
    # daprd is done before the kubelet's SIGKILL whenever the grace period allows it at all
    assert plan.pre_stop_seconds + plan.graceful_seconds < grace or grace <= 2


def test_short_grace_period_has_no_prestop_and_no_blocked_shutdown() -> None:
    body = sample_body()
    body["spec"]["pod"]["terminationGracePeriodSeconds"] = 10
    template = _pod_template(body)
    assert "lifecycle" not in template["spec"]["containers"][0]
    assert names.DAPR_BLOCK_SHUTDOWN_DURATION not in template["metadata"]["annotations"]
    assert template["metadata"]["annotations"][names.DAPR_GRACEFUL_SHUTDOWN_SECONDS] == "8"


def test_operator_keys_win_over_the_users() -> None:
    """The CRD rejects these; an object admitted before the rule still gets working pods."""
    body = podspec_body()
    body["spec"]["pod"]["labels"][names.LABEL_INSTANCE] = "hijack"
    body["spec"]["pod"]["annotations"][names.DAPR_APP_ID] = "hijack"
    body["spec"]["pod"]["annotations"]["taskapi.io/components-hash"] = "hijack"
    body["spec"]["env"].append({"name": names.ENV_TOPIC, "value": "hijack"})
    template = _pod_template(body)
    assert template["metadata"]["labels"][names.LABEL_INSTANCE] == "taskapi-sample"
    assert template["metadata"]["annotations"][names.DAPR_APP_ID] == "taskapi-sample"
    assert template["metadata"]["annotations"]["taskapi.io/components-hash"] != "hijack"
    env = template["spec"]["containers"][0]["env"]
    assert [e["value"] for e in env if e["name"] == names.ENV_TOPIC] == ["task-events"]
    assert template["metadata"]["labels"]["team"] == "orders"


def test_app_health_check_can_be_switched_off() -> None:
    body = sample_body()
    body["spec"]["sidecar"]["appHealthCheck"]["enabled"] = False
    annotations = _pod_template(body)["metadata"]["annotations"]
    assert not [k for k in annotations if k.startswith("dapr.io/app-health")]
    assert names.DAPR_APP_HEALTH_CHECK not in annotations


def test_topology_spread_keeps_a_users_selector() -> None:
    body = podspec_body()
    own = {"matchLabels": {"tier": "api"}}
    body["spec"]["pod"]["topologySpreadConstraints"][0]["labelSelector"] = own
    (spread,) = _pod_template(body)["spec"]["topologySpreadConstraints"]
    assert spread["labelSelector"] == own


@pytest.mark.parametrize(("replicas", "budgets"), [(0, 0), (1, 0), (2, 1), (5, 1)])
def test_disruption_budget_only_with_more_than_one_replica(replicas: int, budgets: int) -> None:
    body = sample_body()
    body["spec"]["replicas"] = replicas
    children = build_children(TaskApi.from_body(body))
    pdbs = [c for c in children if c["kind"] == "PodDisruptionBudget"]
    assert len(pdbs) == budgets
    for pdb in pdbs:
        assert pdb["spec"]["selector"]["matchLabels"] == names.selector_labels("taskapi-sample")


def test_resiliency_retries_the_managed_pubsub_for_this_app_only() -> None:
    body = sample_body()
    body["spec"]["pubsub"]["deliveryRetries"] = {"maxRetries": 3, "maxInterval": "2s"}
    resiliency = _children(body)["Resiliency"]
    policy = resiliency["spec"]["policies"]["retries"][names.DAPR_EVENT_DELIVERY_POLICY]
    assert (policy["maxRetries"], policy["maxInterval"]) == (3, "2s")
    assert resiliency["spec"]["targets"]["components"] == {
        "taskapi-sample-pubsub": {"inbound": {"retry": names.DAPR_EVENT_DELIVERY_POLICY}}
    }
    assert resiliency["scopes"] == ["taskapi-sample"]


def test_no_resiliency_for_a_referenced_pubsub() -> None:
    assert "Resiliency" not in _children(refs_body())


def test_retry_change_rolls_the_pods() -> None:
    body = sample_body()
    before = _pod_template(body)["metadata"]["annotations"][names.ANNOTATION_COMPONENTS_HASH]
    body["spec"]["pubsub"]["deliveryRetries"]["maxRetries"] = 11
    after = _pod_template(body)["metadata"]["annotations"][names.ANNOTATION_COMPONENTS_HASH]
    assert before != after


def _state_store_metadata(body: dict[str, Any]) -> dict[str, Any]:
    children = build_children(TaskApi.from_body(body))
    (store,) = [
        c
        for c in children
        if c["kind"] == "Component" and c["metadata"]["name"].endswith("-statestore")
    ]
    return {m["name"]: m.get("value", m.get("secretKeyRef")) for m in store["spec"]["metadata"]}


def test_state_store_carries_the_outbox_of_the_instance_topic() -> None:
    body = sample_body()
    body["spec"]["pubsub"]["topic"] = "orders"
    # a user's own outbox item is replaced: spec.pubsub decides for the app and outbox alike
    body["spec"]["stateStore"]["managed"]["metadata"].append(
        {"name": names.OUTBOX_PUBLISH_TOPIC, "value": "elsewhere"}
    )
    metadata = _state_store_metadata(body)
    assert metadata[names.OUTBOX_PUBLISH_PUBSUB] == "taskapi-sample-pubsub"
    assert metadata[names.OUTBOX_PUBLISH_TOPIC] == "orders"
    assert metadata["redisHost"] == "redis-master:6379"


def test_outbox_publishes_to_a_referenced_pubsub_by_its_name() -> None:
    body = sample_body()
    body["spec"]["pubsub"] = {"ref": {"name": "shared-pubsub"}}
    metadata = _state_store_metadata(served(body))
    assert metadata[names.OUTBOX_PUBLISH_PUBSUB] == "shared-pubsub"
    assert metadata[names.OUTBOX_PUBLISH_TOPIC] == "task-events"
