"""What a pod says about readiness: app + daprd containers, and which pods count at all."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from taskapi_operator import names

SIDECAR_READY, SIDECAR_NOT_READY, SIDECAR_NOT_INJECTED = "Ready", "NotReady", "NotInjected"
# Pods that have finished (evicted, completed) are history, not capacity.
_FINISHED_PHASES = frozenset({"Failed", "Succeeded"})


@dataclass(frozen=True)
class PodView:
    name: str
    phase: str
    ready: bool
    containers_ready: int
    containers: int
    sidecar: str
    ip: str | None = None

    def as_status(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "phase": self.phase,
            "ready": f"{self.containers_ready}/{self.containers}",
            "sidecar": self.sidecar,
        }


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
        ip=status.get("podIP") or None,
    )


def live_pods(pods: Sequence[Mapping[str, Any]]) -> list[PodView]:
    """Pods that count: not terminating (on their way out) and not finished (Failed or
    Succeeded: an evicted pod lingers until someone deletes it)."""
    kept = [
        p
        for p in pods
        if not (p.get("metadata") or {}).get("deletionTimestamp")
        and (p.get("status") or {}).get("phase") not in _FINISHED_PHASES
    ]
    return sorted((pod_view(p) for p in kept), key=lambda v: v.name)


def probe_targets(views: Sequence[PodView]) -> list[tuple[str, str]]:
    """(name, IP) of the pods whose sidecar can be asked about the subscription."""
    return [(v.name, v.ip) for v in views if v.ready and v.ip]
