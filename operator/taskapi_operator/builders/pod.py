"""Pod-level settings of the Task API pods: metadata, Dapr annotations, scheduling, shutdown.

The user's pod labels, annotations and env come first and the operator's win: the CRD already
rejects the keys the operator owns, so this only matters for objects admitted before a rule
existed, and then the pods keep working (selector labels and dapr.io/* stay the operator's).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from taskapi_operator import names
from taskapi_operator.model import TaskApi

# Seconds the app keeps serving after the pod is marked terminating, so that Service endpoints
# and Dapr name resolution stop sending it new work before it stops listening.
PRE_STOP_SECONDS = 5
# Seconds kept free at the end of the grace period: daprd must exit before the SIGKILL.
SHUTDOWN_MARGIN_SECONDS = 2


@dataclass(frozen=True)
class ShutdownPlan:
    """How a pod's termination grace period is spent.

    Kubelet signals both containers at once; daprd has no preStop of its own. So the app
    sleeps ``pre_stop_seconds`` in preStop while daprd blocks its shutdown for as long (the app
    can still use Dapr while it finishes work), then daprd drains in-flight calls and
    deliveries for at most ``graceful_seconds``, ending ``SHUTDOWN_MARGIN_SECONDS`` before the
    grace period does.
    """

    pre_stop_seconds: int
    graceful_seconds: int


def shutdown_plan(grace_seconds: int) -> ShutdownPlan:
    # Short grace periods get no preStop: draining matters more than endpoint propagation.
    pre_stop = PRE_STOP_SECONDS if grace_seconds >= 4 * PRE_STOP_SECONDS else 0
    graceful = max(1, grace_seconds - pre_stop - SHUTDOWN_MARGIN_SECONDS)
    return ShutdownPlan(pre_stop_seconds=pre_stop, graceful_seconds=graceful)


def _sidecar_size(taskapi: TaskApi) -> dict[str, str]:
    resources = taskapi.spec.sidecar.resources
    sized = {
        names.DAPR_SIDECAR_CPU_REQUEST: resources.requests.get("cpu"),
        names.DAPR_SIDECAR_MEMORY_REQUEST: resources.requests.get("memory"),
        names.DAPR_SIDECAR_CPU_LIMIT: resources.limits.get("cpu"),
        names.DAPR_SIDECAR_MEMORY_LIMIT: resources.limits.get("memory"),
    }
    return {k: v for k, v in sized.items() if v}


def _app_health(taskapi: TaskApi) -> dict[str, str]:
    check = taskapi.spec.sidecar.app_health_check
    if not check.enabled:
        return {}
    return {
        names.DAPR_APP_HEALTH_CHECK: "true",
        names.DAPR_APP_HEALTH_CHECK_PATH: check.path,
        names.DAPR_APP_HEALTH_PROBE_INTERVAL: str(check.probe_interval_seconds),
        names.DAPR_APP_HEALTH_PROBE_TIMEOUT: str(check.probe_timeout_milliseconds),
        names.DAPR_APP_HEALTH_THRESHOLD: str(check.threshold),
    }


def _shutdown(taskapi: TaskApi) -> dict[str, str]:
    plan = shutdown_plan(taskapi.spec.pod.termination_grace_period_seconds)
    out = {names.DAPR_GRACEFUL_SHUTDOWN_SECONDS: str(plan.graceful_seconds)}
    if plan.pre_stop_seconds:
        out[names.DAPR_BLOCK_SHUTDOWN_DURATION] = f"{plan.pre_stop_seconds}s"
    return out


def dapr_annotations(taskapi: TaskApi) -> dict[str, str]:
    """Everything the Dapr injector reads from the pod template."""
    spec = taskapi.spec
    sidecar = spec.sidecar
    annotations = {
        names.DAPR_ENABLED: "true",
        names.DAPR_APP_ID: taskapi.app_id,
        names.DAPR_APP_PORT: str(spec.port),
        names.DAPR_APP_PROTOCOL: "http",
        names.DAPR_LOG_LEVEL: sidecar.log_level,
        names.DAPR_API_LOGGING: "true" if sidecar.api_logging else "false",
    }
    if sidecar.config:
        annotations[names.DAPR_CONFIG] = sidecar.config
    return annotations | _sidecar_size(taskapi) | _app_health(taskapi) | _shutdown(taskapi)


def pod_annotations(taskapi: TaskApi, components_hash: str) -> dict[str, str]:
    user = {
        k: v
        for k, v in taskapi.spec.pod.annotations.items()
        if not k.startswith(names.OPERATOR_ANNOTATION_PREFIXES)
    }
    return user | dapr_annotations(taskapi) | {names.ANNOTATION_COMPONENTS_HASH: components_hash}


def pod_labels(taskapi: TaskApi) -> dict[str, str]:
    user = {k: v for k, v in taskapi.spec.pod.labels.items() if k not in names.OPERATOR_POD_LABELS}
    return user | names.child_labels(taskapi.name, names.COMPONENT_API)


def _spread(constraint: dict[str, Any], selector: dict[str, str]) -> dict[str, Any]:
    # A constraint without a selector counts no pods at all: default to this instance's pods.
    spread = copy.deepcopy(constraint)
    spread.setdefault("labelSelector", {"matchLabels": dict(selector)})
    return spread


def scheduling(taskapi: TaskApi) -> dict[str, Any]:
    """Pod spec fields that place and pull the pods; only those the user set."""
    pod = taskapi.spec.pod
    selector = names.selector_labels(taskapi.name)
    fields: dict[str, Any] = {
        "imagePullSecrets": [dict(s) for s in pod.image_pull_secrets],
        "nodeSelector": dict(pod.node_selector),
        "tolerations": copy.deepcopy(list(pod.tolerations)),
        "affinity": copy.deepcopy(pod.affinity),
        "topologySpreadConstraints": [
            _spread(c, selector) for c in pod.topology_spread_constraints
        ],
        "priorityClassName": pod.priority_class_name,
    }
    return {k: v for k, v in fields.items() if v}


def pre_stop(taskapi: TaskApi) -> dict[str, Any] | None:
    """The app container's lifecycle: a sleep action (no binary needed in the image)."""
    seconds = shutdown_plan(taskapi.spec.pod.termination_grace_period_seconds).pre_stop_seconds
    if not seconds:
        return None
    return {"preStop": {"sleep": {"seconds": seconds}}}
