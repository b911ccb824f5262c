"""Subscription health from a real daprd: it serves the metadata API on a kwok pod's IP.

The pod exists in the real apiserver, with the daprd container Dapr's real injector added
(kwok gives it a 127.N.x.y IP and plays the kubelet); a real daprd process, loaded
with the very Component the operator created, listens on that IP at the operator's probe
port beside a tiny app that declares (or stops declaring) the subscription.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.dapr import Daprd
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
from harness.redis import RedisServer
from harness.subscriber import SubscribingApp

pytestmark = pytest.mark.integration
NAME = "taskapi-sample"
PUBSUB, TOPIC = f"{NAME}-pubsub", "task-events"


@pytest.fixture
def app() -> Iterator[SubscribingApp]:
    """Declares the TaskApi's subscription until told not to, like the real app."""
    with SubscribingApp(PUBSUB, TOPIC) as running:
        yield running


def local_copy_of_component(
    cluster: Cluster, namespace: str, redis: RedisServer, directory: Path
) -> Path:
    """The operator's pub/sub Component, pointed at the local Redis for self-hosted daprd."""
    component = get_json(cluster, "components.dapr.io", PUBSUB, "-n", namespace)
    doc = {
        "apiVersion": component["apiVersion"],
        "kind": "Component",
        "metadata": {"name": component["metadata"]["name"]},
        "spec": {
            "type": component["spec"]["type"],
            "version": component["spec"]["version"],
            "metadata": [
                {"name": "redisHost", "value": redis.address},
                {"name": "redisPassword", "value": ""},
            ],
        },
        "scopes": component["scopes"],
    }
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pubsub.yaml").write_text(yaml.safe_dump(doc))
    return directory


def test_subscription_health_follows_the_real_sidecar(  # noqa: PLR0917 (fixtures)
    dapr_namespace: str,
    dapr_taskapi_operator: RunningOperator,
    redis_server: RedisServer,
    dapr_configuration: Path,
    app: SubscribingApp,
    tmp_path: Path,
) -> None:
    cluster, namespace, taskapi_operator = (
        dapr_taskapi_operator.cluster,
        dapr_namespace,
        dapr_taskapi_operator,
    )
    create_secrets(cluster, namespace)
    apply(cluster, namespace, sample(replicas=1))

    def ready_pod_ip() -> str | None:
        found = get_json(cluster, "taskapi", NAME, "-n", namespace)
        if condition(found, "Ready").get("status") != "True":
            return None
        pods = get_json(
            cluster, "pods", "-n", namespace, "-l", f"app.kubernetes.io/instance={NAME}"
        )["items"]
        return str(pods[0]["status"]["podIP"]) if len(pods) == 1 else None

    pod_ip = wait_for(ready_pod_ip, 90, "a ready pod with an IP", taskapi_operator)
    assert pod_ip.startswith("127.")
    resources = local_copy_of_component(cluster, namespace, redis_server, tmp_path / "res")

    def sidecar(workdir: Path) -> Daprd:
        return Daprd(
            NAME,
            app.port,
            resources,
            workdir,
            config=dapr_configuration,
            listen_ip=pod_ip,
            public_port=taskapi_operator.probe_port,
        )

    def subscription(state: str) -> Any:
        def check() -> dict[str, Any] | None:
            found = get_json(cluster, "taskapi", NAME, "-n", namespace)
            sub = found["status"]["subscription"]
            return found if sub["state"] == state else None

        return check

    with sidecar(tmp_path / "d1") as daprd:
        daprd.wait_healthy()
        assert any(
            s["pubsubname"] == PUBSUB and s["topic"] == TOPIC
            for s in daprd.metadata().get("subscriptions") or []
        )
        found = wait_for(subscription("Healthy"), 60, "subscription Healthy", taskapi_operator)
    sub = found["status"]["subscription"]
    assert (sub["pubsub"], sub["topic"], sub["registered"]) == (PUBSUB, TOPIC, 1)
    assert sub["lastProbeTime"]
    assert condition(found, "SubscriptionHealthy")["status"] == "True"
    assert condition(found, "Ready")["status"] == "True"

    # The app stops declaring it; a restarted sidecar no longer registers the subscription.
    app.subscribe = False
    with sidecar(tmp_path / "d2") as daprd:
        daprd.wait_healthy()
        assert not daprd.metadata().get("subscriptions")
        found = wait_for(subscription("Unhealthy"), 60, "subscription Unhealthy", taskapi_operator)
        rows = cluster.kubectl("get", "taskapis", "-n", namespace).stdout.splitlines()
        header, row = rows[0].split(), rows[1].split()
        columns = dict(zip(header, row, strict=True))
        assert (columns["SUBSCRIPTION"], columns["STATUS"]) == (
            "Unhealthy",
            "SubscriptionNotRegistered",
        )
    assert found["status"]["subscription"]["registered"] == 0
    ready = condition(found, "Ready")
    assert ready["status"] == "False"
    assert f"{PUBSUB}/{TOPIC}" in ready["message"]
    events = cluster.kubectl(
        "get", "events", "-n", namespace, "--field-selector", "involvedObject.kind=TaskApi"
    ).stdout
    assert "SubscriptionUnhealthy" in events
