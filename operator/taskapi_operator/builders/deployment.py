"""The Deployment of the Task API, annotated so Dapr's injector adds the daprd sidecar."""

from __future__ import annotations

import copy
from typing import Any

from taskapi_operator import names
from taskapi_operator.builders.common import child_metadata
from taskapi_operator.builders.pod import pod_annotations, pod_labels, pre_stop, scheduling
from taskapi_operator.model import ComponentNames, Resources, TaskApi


def _resources(resources: Resources) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if resources.requests:
        out["requests"] = dict(resources.requests)
    if resources.limits:
        out["limits"] = dict(resources.limits)
    return out


def app_env(taskapi: TaskApi, components: ComponentNames) -> list[dict[str, Any]]:
    """The user's extra variables, then the operator ⇄ app contract (Dapr names the app reads
    through its settings), which the user's may not replace."""
    spec = taskapi.spec
    notifications = spec.notifications
    pairs = (
        (names.ENV_STATE_STORE, components.statestore),
        (names.ENV_PUBSUB, components.pubsub),
        (names.ENV_TOPIC, spec.pubsub.topic),
        (names.ENV_DEAD_LETTER_TOPIC, spec.pubsub.dead_letter_topic),
        (names.ENV_SECRET_STORE, components.secretstore),
        (names.ENV_NOTIFICATION_APP_ID, notifications.app_id),
        (names.ENV_NOTIFICATION_METHOD, notifications.method),
        (names.ENV_NOTIFICATION_SECRET, notifications.secret_name),
        (names.ENV_NOTIFICATION_SECRET_KEY, notifications.secret_key),
        (names.ENV_PORT, str(spec.port)),
    )
    extra = [copy.deepcopy(e) for e in spec.env if e.get("name") not in names.OPERATOR_ENV]
    return extra + [{"name": k, "value": v} for k, v in pairs]


def _probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": names.APP_PORT_NAME},
        "periodSeconds": period,
        "failureThreshold": failures,
        "timeoutSeconds": 2,
    }


def _container(taskapi: TaskApi, components: ComponentNames) -> dict[str, Any]:
    spec = taskapi.spec
    container: dict[str, Any] = {
        "name": names.APP_CONTAINER,
        "image": spec.image,
        "imagePullPolicy": spec.image_pull_policy,
        # No command: the image's default command starts the app.
        "ports": [{"name": names.APP_PORT_NAME, "containerPort": spec.port, "protocol": "TCP"}],
        "env": app_env(taskapi, components),
        **({"envFrom": copy.deepcopy(list(spec.env_from))} if spec.env_from else {}),
        "readinessProbe": _probe(names.APP_READINESS_PATH, period=5, failures=3),
        "livenessProbe": _probe(names.APP_LIVENESS_PATH, period=10, failures=3),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [{"name": names.TMP_VOLUME, "mountPath": "/tmp"}],  # noqa: S108
    }
    resources = _resources(spec.resources)
    if resources:
        container["resources"] = resources
    lifecycle = pre_stop(taskapi)
    if lifecycle:
        container["lifecycle"] = lifecycle
    return container


def build_deployment(
    taskapi: TaskApi, components: ComponentNames, components_hash: str
) -> dict[str, Any]:
    selector = names.selector_labels(taskapi.name)
    metadata = {
        "labels": pod_labels(taskapi),
        "annotations": pod_annotations(taskapi, components_hash),
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": child_metadata(
            taskapi, names.deployment_name(taskapi.name), names.COMPONENT_API
        ),
        "spec": {
            "replicas": taskapi.spec.replicas,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": metadata,
                "spec": {
                    "serviceAccountName": names.service_account_name(taskapi.name),
                    **scheduling(taskapi),
                    "terminationGracePeriodSeconds": (
                        taskapi.spec.pod.termination_grace_period_seconds
                    ),
                    "securityContext": {
                        "runAsNonRoot": True,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [_container(taskapi, components)],
                    "volumes": [{"name": names.TMP_VOLUME, "emptyDir": {}}],
                },
            },
        },
    }
