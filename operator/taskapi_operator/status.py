"""Pure computation of TaskApi.status from observed objects (no I/O; the clock is passed in)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from taskapi_operator import names
from taskapi_operator.builders.components import component_names
from taskapi_operator.model import TaskApi

HEALTHY, UNHEALTHY, UNKNOWN = "Healthy", "Unhealthy", "Unknown"
SIDECAR_READY, SIDECAR_NOT_READY, SIDECAR_NOT_INJECTED = "Ready", "NotReady", "NotInjected"


@dataclass(frozen=True)
class PodProbe:
    """What one pod's sidecar metadata API said: registered, or why it could not tell."""

    pod: str
    registered: bool = False
    error: str | None = None


@dataclass(frozen=True)
class Observed:
    deployment: Mapping[str, Any] | None = None
    pods: Sequence[Mapping[str, Any]] = ()
    missing_components: Sequence[str] = ()
    missing_secrets: Sequence[str] = ()
    probes: Sequence[PodProbe] = ()
    apply_error: str | None = None


@dataclass(frozen=True)
class _Cond:
    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str

    def __post_init__(self) -> None:
        # GitOps health checks classify Ready=False by reason: an unlisted one is a bug here.
        if (
            self.type == names.COND_READY
            and self.status == "False"
            and self.reason not in names.READY_FALSE_REASONS
        ):
            raise ValueError(f"Ready=False reason {self.reason!r} is not in READY_FALSE_REASONS")


@dataclass(frozen=True)
class PodView:
    name: str
    phase: str
    ready: bool
    containers_ready: int
    containers: int
    sidecar: str

    def as_status(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "phase": self.phase,
            "ready": f"{self.containers_ready}/{self.containers}",
            "sidecar": self.sidecar,
        }


def format_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None


def pod_view(pod: Mapping[str, Any]) -> PodView:
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    statuses = {
        s.get("name"): bool(s.get("ready"))
        for s in [
            *(status.get("containerStatuses") or []),
            *(status.get("initContainerStatuses") or []),
        ]
    }
    containers = [c["name"] for c in spec.get("containers") or []]
    # Dapr may inject daprd as a native sidecar (an init container with restartPolicy Always).
    sidecars = [
        c["name"] for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"
    ]
    running = containers + sidecars
    if names.DAPR_SIDECAR_CONTAINER not in running:
        sidecar = SIDECAR_NOT_INJECTED
    elif statuses.get(names.DAPR_SIDECAR_CONTAINER):
        sidecar = SIDECAR_READY
    else:
        sidecar = SIDECAR_NOT_READY
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    return PodView(
        name=pod["metadata"]["name"],
        phase=status.get("phase", "Pending"),
        ready=conditions.get("Ready") == "True",
        containers_ready=sum(1 for n in running if statuses.get(n)),
        containers=len(running),
        sidecar=sidecar,
    )


def live_pods(pods: Sequence[Mapping[str, Any]]) -> list[PodView]:
    """Pods that count: terminating pods are on their way out and would skew the totals."""
    kept = [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")]
    return sorted((pod_view(p) for p in kept), key=lambda v: v.name)


def _names(views: Sequence[PodView]) -> str:
    return ", ".join(v.name for v in views)


def _components_condition(taskapi: TaskApi, observed: Observed) -> _Cond:
    kind = names.COND_COMPONENTS_READY
    ns = taskapi.namespace
    if observed.apply_error:
        return _Cond(kind, "False", names.REASON_APPLY_FAILED, observed.apply_error)
    if observed.missing_components:
        missing = ", ".join(observed.missing_components)
        return _Cond(
            kind,
            "False",
            names.REASON_COMPONENT_NOT_FOUND,
            f"referenced Dapr component(s) {missing} not found in namespace {ns}: "
            "create them, or let the operator manage them (spec.<store>.managed)",
        )
    if observed.missing_secrets:
        missing = ", ".join(observed.missing_secrets)
        return _Cond(
            kind,
            "False",
            names.REASON_SECRET_NOT_FOUND,
            f"Secret(s) {missing} not found in namespace {ns}: create them "
            "(referenced by spec.notifications.secretName or a component secretKeyRef)",
        )
    resolved = component_names(taskapi)
    return _Cond(
        kind,
        "True",
        "ComponentsReady",
        f"statestore={resolved.statestore}, pubsub={resolved.pubsub}, "
        f"secretstore={resolved.secretstore}",
    )


def _available_condition(deployment: Mapping[str, Any] | None, paused: bool) -> _Cond:
    kind = names.COND_AVAILABLE
    if deployment is None:
        why = "paused before it was created" if paused else "not created yet"
        return _Cond(kind, "False", "DeploymentNotFound", f"Deployment {why}")
    for cond in (deployment.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Available":
            return _Cond(
                kind,
                str(cond.get("status", "Unknown")),
                str(cond.get("reason") or "Unknown"),
                str(cond.get("message") or ""),
            )
    return _Cond(kind, "Unknown", "DeploymentProgressing", "Deployment has no status yet")


def _stalled(deployment: Mapping[str, Any] | None) -> str | None:
    """The Deployment's message when its rollout exceeded progressDeadlineSeconds."""
    for cond in ((deployment or {}).get("status") or {}).get("conditions") or []:
        if (
            cond.get("type") == "Progressing"
            and cond.get("status") == "False"
            and cond.get("reason") == names.REASON_PROGRESS_DEADLINE_EXCEEDED
        ):
            return str(cond.get("message") or names.REASON_PROGRESS_DEADLINE_EXCEEDED)
    return None


def _sidecars_condition(views: Sequence[PodView], desired: int) -> _Cond:
    kind = names.COND_SIDECARS_READY
    not_injected = [v for v in views if v.sidecar == SIDECAR_NOT_INJECTED]
    not_ready = [v for v in views if v.sidecar == SIDECAR_NOT_READY]
    if not_injected:
        return _Cond(
            kind,
            "False",
            names.REASON_SIDECAR_NOT_INJECTED,
            f"pod(s) {_names(not_injected)} have no daprd container: Dapr sidecar not "
            "injected: is Dapr installed in this cluster (dapr-sidecar-injector "
            "running) and the pod annotated dapr.io/enabled=true?",
        )
    if not_ready:
        return _Cond(
            kind,
            "False",
            names.REASON_SIDECAR_NOT_READY,
            f"daprd not ready in pod(s) {_names(not_ready)}: see `kubectl logs <pod> -c daprd`",
        )
    if not views:
        if desired == 0:
            return _Cond(kind, "True", "NoPodsDesired", "spec.replicas is 0")
        return _Cond(kind, "Unknown", "NoPods", "no pods yet")
    return _Cond(
        kind, "True", "SidecarsReady", f"{len(views)}/{len(views)} pods have a ready daprd sidecar"
    )


def _subscription(
    taskapi: TaskApi,
    observed: Observed,
    previous: Mapping[str, Any],
    now: datetime,
    heartbeat: float,
) -> dict[str, Any]:
    pubsub = component_names(taskapi).pubsub
    topic = taskapi.spec.pubsub.topic
    what = f"{pubsub}/{topic}"
    probes = list(observed.probes)
    registered = sum(1 for p in probes if p.registered)
    failed = [p for p in probes if p.error]
    missing = [p.pod for p in probes if not p.registered and not p.error]
    if not probes:
        state, message = UNKNOWN, "no ready pods to probe"
    elif len(failed) == len(probes):
        state = UNKNOWN
        message = f"metadata probe failed for {len(failed)} ready pod(s): {failed[0].error}"
    elif registered == len(probes):
        state = HEALTHY
        message = f"{registered}/{len(probes)} ready pods' sidecars list {what}"
    else:
        # Unhealthy only on evidence: a sidecar answered without the subscription. A probe
        # that failed (timeout, refused) proves nothing either way: the state is Unknown.
        state = UNHEALTHY if missing else UNKNOWN
        parts = [f"{registered}/{len(probes)} ready pods' sidecars list {what}"]
        if missing:
            parts.append(
                f"missing in {', '.join(missing)}: does the app declare it on "
                "GET /dapr/subscribe? daprd reads it once when the app becomes ready"
            )
        if failed:
            parts.append(f"probe failed for {', '.join(p.pod for p in failed)}")
        message = "; ".join(parts)
    sub: dict[str, Any] = {
        "pubsub": pubsub,
        "topic": topic,
        "state": state,
        "registered": registered,
        "message": message,
    }
    before = {k: previous.get(k) for k in sub}
    last = previous.get("lastProbeTime")
    last_time = parse_time(last)
    if not probes:
        if last:
            sub["lastProbeTime"] = last
    elif before == sub and last_time and (now - last_time).total_seconds() < heartbeat:
        # Unchanged result: keep the old time, so a steady state writes nothing.
        sub["lastProbeTime"] = last
    else:
        sub["lastProbeTime"] = format_time(now)
    return sub


def _subscription_condition(sub: Mapping[str, Any]) -> _Cond:
    kind = names.COND_SUBSCRIPTION_HEALTHY
    state = sub["state"]
    if state == HEALTHY:
        return _Cond(kind, "True", "SubscriptionRegistered", sub["message"])
    if state == UNHEALTHY:
        return _Cond(kind, "False", names.REASON_SUBSCRIPTION_NOT_REGISTERED, sub["message"])
    reason = "NoReadyPods" if sub["message"] == "no ready pods to probe" else "ProbeFailed"
    return _Cond(kind, "Unknown", reason, sub["message"])


def _ready_condition(
    conds: Mapping[str, _Cond],
    *,
    ready: int,
    desired: int,
    sidecars: str,
    sub_state: str,
    paused: bool,
    stalled: str | None = None,
) -> _Cond:
    kind = names.COND_READY
    components = conds[names.COND_COMPONENTS_READY]
    side = conds[names.COND_SIDECARS_READY]
    subscription = conds[names.COND_SUBSCRIPTION_HEALTHY]
    if components.status != "True":
        result = _Cond(kind, "False", components.reason, components.message)
    elif side.reason == names.REASON_SIDECAR_NOT_INJECTED:
        result = _Cond(kind, "False", side.reason, side.message)
    elif ready < desired and stalled:
        # The Deployment controller gave up waiting (image pull, crash loop, a daprd that
        # never gets ready, quota): no longer transient, a person must look.
        detail = f"; {side.message}" if side.status == "False" else ""
        result = _Cond(
            kind,
            "False",
            names.REASON_PROGRESS_DEADLINE_EXCEEDED,
            f"{ready}/{desired} pods ready; Deployment: {stalled}{detail}",
        )
    elif side.status == "False":
        result = _Cond(kind, "False", side.reason, side.message)
    elif ready < desired:
        result = _Cond(kind, "False", names.REASON_PODS_NOT_READY, f"{ready}/{desired} pods ready")
    elif subscription.status == "False":
        result = _Cond(kind, "False", subscription.reason, subscription.message)
    else:
        # An Unknown subscription (nothing answered the probe) does not block Ready:
        # the pods and their sidecars are ready, which is what the probes prove.
        result = _Cond(
            kind,
            "True",
            "Ready",
            f"{ready}/{desired} pods ready, sidecars {sidecars}, subscription {sub_state}",
        )
    if paused:
        return _Cond(
            kind,
            result.status,
            names.REASON_PAUSED,
            f"reconciliation paused by annotation {names.ANNOTATION_PAUSED}; "
            f"{result.reason}: {result.message}",
        )
    return result


def _conditions(
    new: Sequence[_Cond], previous: Sequence[Mapping[str, Any]], generation: int, now: datetime
) -> list[dict[str, Any]]:
    old = {c.get("type"): c for c in previous}
    out = []
    for cond in new:
        before = old.get(cond.type)
        # metav1.Condition: the transition time moves only when status changes.
        changed = before is None or before.get("status") != cond.status
        out.append(
            {
                "type": cond.type,
                "status": cond.status,
                "observedGeneration": generation,
                "lastTransitionTime": format_time(now)
                if changed or before is None
                else before.get("lastTransitionTime", format_time(now)),
                "reason": cond.reason,
                "message": cond.message,
            }
        )
    return out


def compute_status(
    taskapi: TaskApi,
    observed: Observed,
    previous: Mapping[str, Any],
    now: datetime,
    heartbeat_seconds: float = 300.0,
) -> dict[str, Any]:
    """The whole status subresource for one TaskApi."""
    views = live_pods(observed.pods)
    desired = taskapi.spec.replicas
    deploy_status = (observed.deployment or {}).get("status") or {}
    replicas = int(deploy_status.get("replicas") or 0)
    ready = int(deploy_status.get("readyReplicas") or 0)
    sidecars_ready = sum(1 for v in views if v.sidecar == SIDECAR_READY)
    sidecars = f"{sidecars_ready}/{len(views)}"
    sub = _subscription(
        taskapi, observed, previous.get("subscription") or {}, now, heartbeat_seconds
    )
    conds = {
        c.type: c
        for c in (
            _components_condition(taskapi, observed),
            _available_condition(observed.deployment, taskapi.paused),
            _sidecars_condition(views, desired),
            _subscription_condition(sub),
        )
    }
    ready_cond = _ready_condition(
        conds,
        ready=ready,
        desired=desired,
        sidecars=sidecars,
        sub_state=sub["state"],
        paused=taskapi.paused,
        stalled=_stalled(observed.deployment),
    )
    ordered = [ready_cond, *conds.values()]
    return {
        "observedGeneration": taskapi.generation,
        "replicas": replicas,
        "readyReplicas": ready,
        "ready": f"{ready}/{desired}",
        "sidecars": sidecars,
        "selector": names.label_selector(names.selector_labels(taskapi.name)),
        "pods": [v.as_status() for v in views],
        "subscription": sub,
        "conditions": _conditions(
            ordered, previous.get("conditions") or [], taskapi.generation, now
        ),
    }


def invalid_spec_status(
    previous: Mapping[str, Any], generation: int, message: str, now: datetime
) -> dict[str, Any]:
    """Status for a spec that passed admission but cannot be reconciled."""
    cond = _Cond(names.COND_READY, "False", names.REASON_INVALID_SPEC, message)
    status = dict(previous)
    others = [c for c in previous.get("conditions") or [] if c.get("type") != cond.type]
    status["observedGeneration"] = generation
    status["conditions"] = (
        _conditions([cond], previous.get("conditions") or [], generation, now) + others
    )
    return status


def merge_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """RFC 7386 merge patch turning ``old`` into ``new`` (empty when they are equal)."""
    patch: dict[str, Any] = {}
    for key in old.keys() - new.keys():
        patch[key] = None
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, Mapping) and isinstance(before, Mapping):
            sub = merge_patch(before, value)
            if sub:
                patch[key] = sub
        elif before != value:
            patch[key] = value
    return patch
