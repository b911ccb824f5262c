"""metav1.Condition bookkeeping: reasons checked against names.py, stable transition times."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from taskapi_operator import names


def format_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None


@dataclass(frozen=True)
class Cond:
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


def render(
    new: Sequence[Cond], previous: Sequence[Mapping[str, Any]], generation: int, now: datetime
) -> list[dict[str, Any]]:
    """The conditions as metav1.Condition dicts; lastTransitionTime moves only on a status
    change."""
    old = {c.get("type"): c for c in previous}
    out = []
    for cond in new:
        before = old.get(cond.type)
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


def ready_of(status: Mapping[str, Any]) -> tuple[str, str, str]:
    """(status, reason, message) of the Ready condition, empty strings when absent."""
    for cond in status.get("conditions") or []:
        if cond.get("type") == names.COND_READY:
            return (cond.get("status", ""), cond.get("reason", ""), cond.get("message", ""))
    return ("", "", "")


def ready_lost(previous: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Ready goes from True to False for a reason that can clear by itself (pods or sidecars
    not ready): the kind of change that must last before it is published. Lasting failures
    (ChildConflict, ProgressDeadlineExceeded...) are evidence enough as they are."""
    before, after = ready_of(previous), ready_of(new)
    return (
        before[0] == "True"
        and after[0] == "False"
        and after[1] in names.READY_TRANSIENT_REASONS
        and after[1] != names.REASON_PAUSED
    )
