"""What a pod says about readiness: app + daprd containers, and which pods count at all."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from taskapi_operator import names

SIDECAR_READY, SIDECAR_NOT_READY, SIDECAR_NOT_INJECTED = "Ready", "NotReady", "NotInjected"
# Pods that have finished (evicted, completed) are history, not capacity.
_FINISHED_PHASES = frozenset({"Failed", "Succeeded"})
# Why a container does not run that waiting will not cure: a person must look (its previous
# log for a crash, the image name for a pull, the pod's events for a config error).
STUCK_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)


@dataclass(frozen=True)
class PodView:
    name: str
    phase: str
    ready: bool
    containers_ready: int
    containers: int
    sidecar: str
    ip: str | None = None
    # (container, what it is stuck on) for each container waiting on a STUCK_REASONS reason
    stuck: tuple[tuple[str, str], ...] = ()

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
    all_statuses = [
        *(status.get("initContainerStatuses") or []),
        *(status.get("containerStatuses") or []),
    ]
    return PodView(
        name=pod["metadata"]["name"],
        phase=status.get("phase", "Pending"),
        ready=conditions.get("Ready") == "True",
        containers_ready=sum(1 for n in running if statuses.get(n)),
        containers=len(running),
        sidecar=sidecar,
        ip=status.get("podIP") or None,
        stuck=tuple(found for s in all_statuses if (found := _stuck(s)) is not None),
    )


def _stuck(container: Mapping[str, Any]) -> tuple[str, str] | None:
    """("taskapi", "CrashLoopBackOff, last exit code 1, 4 restarts") or None."""
    reason = ((container.get("state") or {}).get("waiting") or {}).get("reason")
    if reason not in STUCK_REASONS:
        return None
    what = [str(reason)]
    last = (container.get("lastState") or {}).get("terminated") or {}
    if "exitCode" in last:
        what.append(f"last exit code {last['exitCode']}")
    if container.get("restartCount"):
        what.append(f"{container['restartCount']} restarts")
    return (str(container.get("name", "")), ", ".join(what))


Stuck = tuple[str, str, str]  # (pod, container, what it is stuck on)


def stuck_message(stuck: Sequence[Stuck]) -> str:
    """What a person should look at for each stuck container."""
    parts = []
    for pod, container, what in stuck:
        look = f"kubectl logs {pod} -c {container} --previous"
        if not what.startswith("CrashLoopBackOff"):
            look = f"kubectl describe pod {pod}"
        parts.append(f"pod {pod} container {container}: {what} (see `{look}`)")
    return "; ".join(parts)


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
