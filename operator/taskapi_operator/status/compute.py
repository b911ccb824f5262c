"""TaskApi.status computed by a pure function from observed objects (no I/O; clock passed in)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from taskapi_operator import names
from taskapi_operator.model import TaskApi
from taskapi_operator.status.conditions import Cond, render
from taskapi_operator.status.pods import (
    SIDECAR_NOT_INJECTED,
    SIDECAR_NOT_READY,
    SIDECAR_READY,
    PodView,
    Stuck,
    live_pods,
    stuck_message,
)
from taskapi_operator.status.rollout import Rollout, available_condition, rollout
from taskapi_operator.status.subscription import (
    PodProbe,
    assess,
    settle,
    subscription_condition,
)


@dataclass(frozen=True)
class StatusPolicy:
    """How status is published; no defaults: production's (reconcile.status_policy) is the
    one tests check."""

    confirmations: int  # consecutive passes that must agree before the subscription changes


@dataclass(frozen=True)
class Observed:
    deployment: Mapping[str, Any] | None = None
    pods: Sequence[Mapping[str, Any]] = ()
    missing_components: Sequence[str] = ()
    missing_secrets: Sequence[str] = ()
    # Referenced state stores that lack Dapr's outbox metadata (names.OUTBOX_METADATA).
    outbox_missing: Sequence[str] = ()
    # "Kind/name is controlled by ..." for each child the operator left alone.
    conflicts: Sequence[str] = ()
    probes: Sequence[PodProbe] = ()
    probed: bool = True  # False: probes were not run this pass (keep the published result)
    probe_streak: int = 1  # consecutive passes (this one included) with this probe finding
    # status.assess of the probes when the caller already made it (the reconciler does, to
    # count the streak): assessed once per pass.
    finding: Mapping[str, Any] | None = None
    apply_error: str | None = None


def _names(views: Sequence[PodView]) -> str:
    return ", ".join(v.name for v in views)


def _components_condition(taskapi: TaskApi, observed: Observed) -> Cond:
    kind = names.COND_COMPONENTS_READY
    if observed.apply_error:
        return Cond(kind, "False", names.REASON_APPLY_FAILED, observed.apply_error)
    ns = taskapi.namespace
    outbox = " and ".join(names.OUTBOX_METADATA)
    # What keeps the components from being ready, the first found wins: what is missing,
    # the reason, and a message that says what to do about it.
    blockers: tuple[tuple[Sequence[str], str, Callable[[str], str]], ...] = (
        (
            observed.missing_components,
            names.REASON_COMPONENT_NOT_FOUND,
            lambda missing: (
                f"referenced Dapr component(s) {missing} not found in namespace {ns}: "
                "create them, or let the operator manage them (spec.<store>.managed)"
            ),
        ),
        (
            observed.missing_secrets,
            names.REASON_SECRET_NOT_FOUND,
            lambda missing: (
                f"Secret(s) {missing} not found in namespace {ns}: create them "
                "(referenced by spec.notifications.secretName or a component "
                "secretKeyRef)"
            ),
        ),
        (
            observed.outbox_missing,
            names.REASON_OUTBOX_NOT_CONFIGURED,
            lambda stores: (
                f"referenced state store {stores} lacks the outbox metadata {outbox}: "
                "the app's events are published from its state transactions; add "
                "them (pubsub and topic of this TaskApi) to the Component"
            ),
        ),
    )
    for found, reason, message in blockers:
        if found:
            return Cond(kind, "False", reason, message(", ".join(found)))
    resolved = taskapi.component_names
    return Cond(
        kind,
        "True",
        names.REASON_COMPONENTS_READY,
        f"statestore={resolved.statestore}, pubsub={resolved.pubsub}, "
        f"secretstore={resolved.secretstore}",
    )


def _sidecars_condition(views: Sequence[PodView], desired: int) -> Cond:
    kind = names.COND_SIDECARS_READY
    not_injected = [v for v in views if v.sidecar == SIDECAR_NOT_INJECTED]
    not_ready = [v for v in views if v.sidecar == SIDECAR_NOT_READY]
    if not_injected:
        return Cond(
            kind,
            "False",
            names.REASON_SIDECAR_NOT_INJECTED,
            f"pod(s) {_names(not_injected)} have no daprd container: Dapr sidecar not "
            "injected: is Dapr installed in this cluster (dapr-sidecar-injector "
            "running) and the pod annotated dapr.io/enabled=true?",
        )
    if not_ready:
        return Cond(
            kind,
            "False",
            names.REASON_SIDECAR_NOT_READY,
            f"daprd not ready in pod(s) {_names(not_ready)}: see `kubectl logs <pod> -c daprd`",
        )
    if not views:
        if desired == 0:
            return Cond(kind, "True", names.REASON_NO_PODS_DESIRED, "spec.replicas is 0")
        return Cond(kind, "Unknown", names.REASON_NO_PODS, "no pods yet")
    return Cond(
        kind,
        "True",
        names.REASON_SIDECARS_READY,
        f"{len(views)}/{len(views)} pods have a ready daprd sidecar",
    )


def _ready_condition(
    conds: Mapping[str, Cond],
    state: Rollout,
    *,
    conflicts: Sequence[str],
    sidecars: str,
    sub_state: str,
    paused: bool,
    stuck: Sequence[Stuck] = (),
) -> Cond:
    kind = names.COND_READY
    components = conds[names.COND_COMPONENTS_READY]
    side = conds[names.COND_SIDECARS_READY]
    subscription = conds[names.COND_SUBSCRIPTION_HEALTHY]
    ready, desired = state.ready, state.desired

    def stalled() -> tuple[str, str]:
        # The Deployment controller gave up waiting (image pull, crash loop, a daprd that
        # never gets ready, quota) whatever old pods still serve: a person must look.
        detail = f"; {side.message}" if side.status == "False" else ""
        return (
            names.REASON_PROGRESS_DEADLINE_EXCEEDED,
            f"{ready}/{desired} pods ready; Deployment: {state.stalled}{detail}",
        )

    # What keeps the TaskApi from being Ready, the first found wins: whether it applies,
    # and (lazily) the reason and a message that says what to do about it.
    blockers: tuple[tuple[bool, Callable[[], tuple[str, str]]], ...] = (
        (
            bool(conflicts),
            lambda: (
                names.REASON_CHILD_CONFLICT,
                "; ".join(conflicts) + ": the operator leaves objects it does not control "
                "alone; rename the TaskApi or remove the other object",
            ),
        ),
        (components.status != "True", lambda: (components.reason, components.message)),
        (side.reason == names.REASON_SIDECAR_NOT_INJECTED, lambda: (side.reason, side.message)),
        (bool(state.stalled), stalled),
        # a container that waiting will not bring up (a crash loop, an image that cannot be
        # pulled), before the sidecar: daprd waits for its app, and is not the one to blame
        # unless it is the one stuck
        (
            bool(stuck),
            lambda: (
                names.REASON_SIDECAR_NOT_READY
                if {c for _, c, _ in stuck} == {names.DAPR_SIDECAR_CONTAINER}
                else names.REASON_PODS_NOT_READY,
                f"{ready}/{desired} pods ready; {stuck_message(stuck)}",
            ),
        ),
        (side.status == "False", lambda: (side.reason, side.message)),
        (
            ready < desired,
            lambda: (names.REASON_PODS_NOT_READY, f"{ready}/{desired} pods ready"),
        ),
        (
            not state.complete and desired > 0,
            lambda: (names.REASON_PODS_NOT_READY, state.progress()),
        ),
        (subscription.status == "False", lambda: (subscription.reason, subscription.message)),
    )
    found = next((why for blocked, why in blockers if blocked), None)
    if found is not None:
        result = Cond(kind, "False", *found())
    else:
        # An Unknown subscription (nothing answered the probe) does not block Ready:
        # the pods and their sidecars are ready, which is what the probes prove.
        result = Cond(
            kind,
            "True",
            names.REASON_READY,
            f"{ready}/{desired} pods ready, sidecars {sidecars}, subscription {sub_state}",
        )
    if paused:
        return Cond(
            kind,
            result.status,
            names.REASON_PAUSED,
            f"reconciliation paused by annotation {names.ANNOTATION_PAUSED}; "
            f"{result.reason}: {result.message}",
        )
    return result


def compute_status(
    taskapi: TaskApi,
    observed: Observed,
    previous: Mapping[str, Any],
    now: datetime,
    policy: StatusPolicy,
) -> dict[str, Any]:
    """The whole status subresource for one TaskApi."""
    views = live_pods(observed.pods)
    desired = taskapi.spec.replicas
    state = rollout(observed.deployment, desired)
    sidecars_ready = sum(1 for v in views if v.sidecar == SIDECAR_READY)
    sidecars = f"{sidecars_ready}/{len(views)}"
    raw = observed.finding
    if raw is None:
        raw = assess(taskapi.component_names.pubsub, taskapi.spec.pubsub.topic, observed.probes)
    sub = settle(
        raw,
        previous.get("subscription") or {},
        probed=observed.probed,
        streak=observed.probe_streak,
        confirmations=policy.confirmations,
        now=now,
    )
    conds = {
        c.type: c
        for c in (
            _components_condition(taskapi, observed),
            available_condition(observed.deployment, state, taskapi.paused),
            _sidecars_condition(views, desired),
            subscription_condition(sub),
        )
    }
    ready_cond = _ready_condition(
        conds,
        state,
        conflicts=observed.conflicts,
        sidecars=sidecars,
        sub_state=sub["state"],
        paused=taskapi.paused,
        stuck=[(v.name, container, what) for v in views for container, what in v.stuck],
    )
    ordered = [ready_cond, *conds.values()]
    return {
        "observedGeneration": taskapi.generation,
        "replicas": state.replicas,
        "readyReplicas": state.ready,
        "ready": f"{state.ready}/{desired}",
        "sidecars": sidecars,
        "selector": names.label_selector(names.selector_labels(taskapi.name)),
        "pods": [v.as_status() for v in views],
        "subscription": sub,
        "conditions": render(ordered, previous.get("conditions") or [], taskapi.generation, now),
    }


def invalid_spec_status(
    previous: Mapping[str, Any], generation: int, message: str, now: datetime
) -> dict[str, Any]:
    """Status for a spec that passed admission but cannot be reconciled."""
    cond = Cond(names.COND_READY, "False", names.REASON_INVALID_SPEC, message)
    status = dict(previous)
    others = [c for c in previous.get("conditions") or [] if c.get("type") != cond.type]
    status["observedGeneration"] = generation
    status["conditions"] = [
        *render([cond], previous.get("conditions") or [], generation, now),
        *others,
    ]
    return status
