"""Whether the Deployment's rollout is done, in progress or stuck: readyReplicas alone is not
the truth (old pods can serve while a new ReplicaSet crash-loops)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from taskapi_operator import names
from taskapi_operator.status.conditions import Cond


@dataclass(frozen=True)
class Rollout:
    desired: int
    replicas: int = 0
    ready: int = 0
    updated: int = 0
    available: int = 0
    observed: bool = False  # the controller has seen the Deployment's current generation
    stalled: str | None = None  # the Deployment's message once past progressDeadlineSeconds
    found: bool = False

    @property
    def complete(self) -> bool:
        return (
            self.found
            and self.observed
            and self.updated == self.available == self.desired
            and self.ready >= self.desired
        )

    def progress(self) -> str:
        if not self.observed:
            return "rollout in progress: the Deployment's new generation is not observed yet"
        return (
            f"rollout in progress: {self.updated}/{self.desired} pods updated, "
            f"{self.available}/{self.desired} available"
        )


def _stalled(status: Mapping[str, Any]) -> str | None:
    for cond in status.get("conditions") or []:
        if (
            cond.get("type") == "Progressing"
            and cond.get("status") == "False"
            and cond.get("reason") == names.REASON_PROGRESS_DEADLINE_EXCEEDED
        ):
            return str(cond.get("message") or names.REASON_PROGRESS_DEADLINE_EXCEEDED)
    return None


def rollout(deployment: Mapping[str, Any] | None, desired: int) -> Rollout:
    if deployment is None:
        return Rollout(desired)
    status = deployment.get("status") or {}
    generation = (deployment.get("metadata") or {}).get("generation")
    return Rollout(
        desired=desired,
        replicas=int(status.get("replicas") or 0),
        ready=int(status.get("readyReplicas") or 0),
        updated=int(status.get("updatedReplicas") or 0),
        available=int(status.get("availableReplicas") or 0),
        # A Deployment read without metadata (unit inputs) counts as observed.
        observed=generation is None or status.get("observedGeneration") == generation,
        stalled=_stalled(status),
        found=True,
    )


def available_condition(deployment: Mapping[str, Any] | None, state: Rollout, paused: bool) -> Cond:
    kind = names.COND_AVAILABLE
    if deployment is None:
        why = "paused before it was created" if paused else "not created yet"
        return Cond(kind, "False", names.REASON_DEPLOYMENT_NOT_FOUND, f"Deployment {why}")
    if state.stalled:
        return Cond(kind, "False", names.REASON_PROGRESS_DEADLINE_EXCEEDED, state.stalled)
    if not state.complete and state.desired > 0 and state.ready >= state.desired:
        return Cond(kind, "False", names.REASON_ROLLOUT_IN_PROGRESS, state.progress())
    for cond in (deployment.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Available":
            return Cond(
                kind,
                str(cond.get("status", "Unknown")),
                str(cond.get("reason") or "Unknown"),
                str(cond.get("message") or ""),
            )
    return Cond(
        kind, "Unknown", names.REASON_DEPLOYMENT_PROGRESSING, "Deployment has no status yet"
    )
