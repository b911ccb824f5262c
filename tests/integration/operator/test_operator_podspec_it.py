"""Pod settings of a TaskApi on the real apiserver, scheduler and kwok: the pods get them, a
PodDisruptionBudget guards them, the CRD defaults and rejects what it should, and Dapr's real
injector turns the health-check and shutdown annotations into daprd flags."""

from __future__ import annotations

import json
import subprocess
import uuid
from typing import Any

import pytest
import yaml

from harness.dapr_control_plane import DaprControlPlane
from harness.kube import Cluster
from harness.operator_stack import (
    REPO,
    RunningOperator,
    apply,
    create_secrets,
    get_json,
    sample,
    wait_for,
)
from taskapi_operator import names
from taskapi_operator.model import TaskApi

pytestmark = pytest.mark.integration

SELECTOR = "app.kubernetes.io/instance={name},app.kubernetes.io/component=api"


def _pods(cluster: Cluster, namespace: str, name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = get_json(
        cluster, "pods", "-n", namespace, "-l", SELECTOR.format(name=name)
    )["items"]
    return found


def _running(cluster: Cluster, namespace: str, name: str, count: int) -> list[dict[str, Any]]:
    pods = [p for p in _pods(cluster, namespace, name) if p["status"].get("phase") == "Running"]
    return pods if len(pods) == count else []


def _pod_settings(priority_class: str) -> dict[str, Any]:
    return {
        "labels": {"team": "orders"},
        "annotations": {"example.com/owner": "team-orders"},
        "imagePullSecrets": [{"name": "registry-credentials"}],
        # the harness's kwok node is labelled type=kwok: the scheduler must honour both
        "nodeSelector": {"type": "kwok"},
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "type", "operator": "In", "values": ["kwok"]}
                            ]
                        }
                    ]
                }
            }
        },
        "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
            }
        ],
        "priorityClassName": priority_class,
        "terminationGracePeriodSeconds": 40,
    }


def test_pod_settings_reach_the_pods_and_a_budget_guards_them(
    cluster: Cluster, namespace: str, taskapi_operator: RunningOperator
) -> None:
    priority_class = f"taskapi-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "priorityclass", priority_class, "--value=1000")
    cluster.kubectl(
        "create", "configmap", "taskapi-settings", "-n", namespace, "--from-literal=TASKAPI_X=1"
    )
    body = sample(
        "shaped",
        replicas=2,
        pod=_pod_settings(priority_class),
        env=[{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        envFrom=[{"configMapRef": {"name": "taskapi-settings"}}],
    )
    apply(cluster, namespace, body)
    pods = wait_for(
        lambda: _running(cluster, namespace, "shaped", 2), 90, "2 running pods", taskapi_operator
    )
    for pod in pods:
        meta, spec = pod["metadata"], pod["spec"]
        assert meta["labels"]["team"] == "orders"
        assert meta["labels"][names.LABEL_INSTANCE] == "shaped"
        assert meta["annotations"]["example.com/owner"] == "team-orders"
        assert meta["annotations"][names.DAPR_GRACEFUL_SHUTDOWN_SECONDS] == "33"
        assert meta["annotations"][names.DAPR_BLOCK_SHUTDOWN_DURATION] == "5s"
        assert meta["annotations"][names.DAPR_APP_HEALTH_CHECK_PATH] == "/health"
        assert spec.get("nodeName")  # scheduled, so selector and affinity matched the node
        assert spec["nodeSelector"] == {"type": "kwok"}
        assert spec["imagePullSecrets"] == [{"name": "registry-credentials"}]
        assert {"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"} in spec[
            "tolerations"
        ]
        assert spec["affinity"]["nodeAffinity"]
        (spread,) = spec["topologySpreadConstraints"]
        assert spread["labelSelector"]["matchLabels"][names.LABEL_INSTANCE] == "shaped"
        # the Priority admission plugin resolved the class: it exists and the pods carry it
        assert (spec["priorityClassName"], spec["priority"]) == (priority_class, 1000)
        assert spec["terminationGracePeriodSeconds"] == 40
        (app,) = [c for c in spec["containers"] if c["name"] == names.APP_CONTAINER]
        assert app["lifecycle"]["preStop"] == {"sleep": {"seconds": 5}}
        env = {e["name"]: e for e in app["env"]}
        assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
        assert env[names.ENV_TOPIC]["value"] == "task-events"
        assert app["envFrom"] == [{"configMapRef": {"name": "taskapi-settings"}}]

    # The disruption controller counts this instance's pods under the operator's budget.
    def budget() -> dict[str, Any] | None:
        pdb = get_json(cluster, "pdb", "shaped", "-n", namespace)
        status = pdb.get("status") or {}
        return pdb if status.get("expectedPods") == 2 else None

    pdb = wait_for(budget, 60, "the PDB counting 2 pods", taskapi_operator)
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["metadata"]["ownerReferences"][0]["name"] == "shaped"
    taskapi = get_json(cluster, "taskapi", "shaped", "-n", namespace)
    assert pdb["metadata"]["ownerReferences"][0]["uid"] == taskapi["metadata"]["uid"]


def test_crd_defaults_are_what_the_model_parses(
    cluster: Cluster, namespace: str, taskapi_crd: object
) -> None:
    """The one source of defaults: the apiserver fills them in, the model (which has none of its
    own) parses the object as served."""
    minimal = {
        "apiVersion": names.API_VERSION,
        "kind": names.KIND,
        "metadata": {"name": "minimal"},
        "spec": {
            "image": "x",
            "stateStore": {"ref": {"name": "s"}},
            "pubsub": {"managed": {"type": "pubsub.redis"}},
        },
    }
    apply(cluster, namespace, minimal)
    served = get_json(cluster, "taskapi", "minimal", "-n", namespace)
    taskapi = TaskApi.from_body(served)
    spec = taskapi.spec
    assert (spec.replicas, spec.port, spec.image_pull_policy) == (1, 8000, "IfNotPresent")
    assert spec.pod.termination_grace_period_seconds == 30
    assert spec.sidecar.app_health_check.enabled
    assert spec.pubsub.delivery_retries.max_retries == 10
    assert spec.pubsub.managed is not None
    assert spec.pubsub.managed.version == "v1"
    assert spec.secret_store.managed is not None
    assert spec.notifications.app_id == "notification-service"


def _rejected(cluster: Cluster, namespace: str, body: dict[str, Any]) -> str:
    with pytest.raises(subprocess.CalledProcessError) as caught:
        cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(body))
    return str(caught.value.stderr)


LABELS_MESSAGE = "spec.pod.labels: app.kubernetes.io/name, instance, component and managed-by"
ANNOTATIONS_MESSAGE = "spec.pod.annotations: dapr.io/* and taskapi.io/* annotations are set"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"pod": {"labels": {names.LABEL_INSTANCE: "x"}}}, LABELS_MESSAGE),
        ({"pod": {"annotations": {names.DAPR_APP_ID: "x"}}}, ANNOTATIONS_MESSAGE),
        ({"pod": {"annotations": {names.ANNOTATION_PAUSED: "true"}}}, ANNOTATIONS_MESSAGE),
        ({"env": [{"name": names.ENV_TOPIC, "value": "x"}]}, "spec.env: the operator sets"),
        ({"pod": {"terminationGracePeriodSeconds": 0}}, "spec.pod.terminationGracePeriodSeconds"),
    ],
)
def test_operator_owned_pod_keys_are_rejected_at_admission(
    cluster: Cluster, namespace: str, taskapi_crd: object, spec: dict[str, Any], expected: str
) -> None:
    assert expected in _rejected(cluster, namespace, sample("bad", **spec))


def test_explain_describes_pod_settings(cluster: Cluster, taskapi_crd: object) -> None:
    out = cluster.kubectl("explain", "taskapi.spec.pod.terminationGracePeriodSeconds").stdout
    assert "graceful-shutdown-seconds" in out
    out = cluster.kubectl("explain", "taskapi.spec.sidecar.appHealthCheck").stdout
    assert "dapr.io/enable-app-health-check" in out


def _postgresql_sample(cluster: Cluster) -> list[dict[str, Any]]:
    rendered = cluster.kubectl("kustomize", str(REPO / "deploy/samples-postgresql")).stdout
    return [d for d in yaml.safe_load_all(rendered) if d]


def test_postgresql_sample_gets_a_v2_state_store_with_the_outbox(
    cluster: Cluster, namespace: str, taskapi_operator: RunningOperator
) -> None:
    objects = _postgresql_sample(cluster)
    (taskapi,) = [o for o in objects if o["kind"] == names.KIND]
    (secret,) = [
        o
        for o in objects
        if o["kind"] == "Secret" and o["metadata"]["name"] == "taskapi-postgresql"
    ]
    cluster.apply_yaml(yaml.safe_dump_all([secret, taskapi]), namespace=namespace)

    store = wait_for(
        lambda: get_json(
            cluster, "components.dapr.io", "taskapi-sample-statestore", "-n", namespace
        ),
        30,
        "the state store Component",
        taskapi_operator,
    )
    assert (store["spec"]["type"], store["spec"]["version"]) == ("state.postgresql", "v2")
    metadata = {m["name"]: m for m in store["spec"]["metadata"]}
    assert metadata["connectionString"]["secretKeyRef"] == {
        "name": "taskapi-postgresql",
        "key": "connection-string",
    }
    assert metadata[names.OUTBOX_PUBLISH_PUBSUB]["value"] == "taskapi-sample-pubsub"
    assert metadata[names.OUTBOX_PUBLISH_TOPIC]["value"] == "task-events"
    assert "redisHost" not in metadata  # the patch replaced the Redis store whole
    resiliency = get_json(
        cluster, "resiliencies.dapr.io", "taskapi-sample-resiliency", "-n", namespace
    )
    assert resiliency["scopes"] == ["taskapi-sample"]
    assert resiliency["spec"]["targets"]["components"]["taskapi-sample-pubsub"] == {
        "inbound": {"retry": names.DAPR_EVENT_DELIVERY_POLICY}
    }


def _flag(args: list[str], flag: str) -> str | None:
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def test_dapr_injector_turns_health_and_shutdown_annotations_into_daprd_flags(
    dapr_control_plane: DaprControlPlane,
    dapr_namespace: str,
    dapr_taskapi_operator: RunningOperator,
) -> None:
    """Checks the annotation names against Dapr 1.17's real injector, not against our notes."""
    cluster = dapr_control_plane.cluster
    create_secrets(cluster, dapr_namespace)
    body = sample("probed", replicas=1, pod={"terminationGracePeriodSeconds": 40})
    body["spec"]["sidecar"]["appHealthCheck"] = {"probeIntervalSeconds": 7, "threshold": 4}
    apply(cluster, dapr_namespace, body)

    def injected() -> dict[str, Any] | None:
        for pod in _pods(cluster, dapr_namespace, "probed"):
            names_ = [c["name"] for c in pod["spec"]["containers"]]
            if names.DAPR_SIDECAR_CONTAINER in names_:
                return pod
        return None

    pod = wait_for(injected, 90, "a pod with the daprd sidecar", dapr_taskapi_operator)
    (daprd,) = [c for c in pod["spec"]["containers"] if c["name"] == names.DAPR_SIDECAR_CONTAINER]
    args = [*daprd.get("command", []), *daprd.get("args", [])]
    assert "--enable-app-health-check" in args, args  # a boolean flag, no value
    flags = {
        "--app-health-check-path": _flag(args, "--app-health-check-path"),
        "--app-health-probe-interval": _flag(args, "--app-health-probe-interval"),
        "--app-health-threshold": _flag(args, "--app-health-threshold"),
        "--dapr-graceful-shutdown-seconds": _flag(args, "--dapr-graceful-shutdown-seconds"),
        "--dapr-block-shutdown-duration": _flag(args, "--dapr-block-shutdown-duration"),
    }
    assert flags == {
        "--app-health-check-path": "/health",
        "--app-health-probe-interval": "7",
        "--app-health-threshold": "4",
        "--dapr-graceful-shutdown-seconds": "33",
        "--dapr-block-shutdown-duration": "5s",
    }, args
    assert pod["spec"]["terminationGracePeriodSeconds"] == 40


def test_argocd_sample_patch_is_accepted_by_the_crd(
    cluster: Cluster, namespace: str, taskapi_crd: object
) -> None:
    """The pod settings the Argo CD sample patches into the TaskApi pass admission."""
    app = yaml.safe_load((REPO / "deploy/argocd/application-sample.yaml").read_text())
    (patch,) = app["spec"]["source"]["kustomize"]["patches"]
    body = sample()
    body["spec"].update(yaml.safe_load(patch["patch"])["spec"])
    result = cluster.kubectl(
        "apply", "--dry-run=server", "-n", namespace, "-f", "-", input=json.dumps(body)
    )
    assert "created (server dry run)" in result.stdout
