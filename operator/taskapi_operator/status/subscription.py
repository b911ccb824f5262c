"""Subscription health from the sidecars' metadata probes, published only on lasting evidence.

A single probe result never flips the published state: a change needs ``confirmations``
consecutive passes that agree (publish.StatusPublisher.streak counts them), and a state that
stays the same keeps its message and probe time, so a steady state writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from taskapi_operator import names
from taskapi_operator.status.conditions import Cond, format_time

HEALTHY, UNHEALTHY, UNKNOWN = "Healthy", "Unhealthy", "Unknown"
NO_READY_PODS = "no ready pods to probe"
_COMPARED = ("pubsub", "topic", "state", "registered")


@dataclass(frozen=True)
class PodProbe:
    """What one pod's sidecar metadata API said: registered, or why it could not tell."""

    pod: str
    registered: bool = False
    error: str | None = None


def assess(pubsub: str, topic: str, probes: Sequence[PodProbe]) -> dict[str, Any]:
    """This pass's raw finding: state, how many sidecars list the subscription, and why."""
    what = f"{pubsub}/{topic}"
    registered = sum(1 for p in probes if p.registered)
    failed = [p for p in probes if p.error]
    missing = [p.pod for p in probes if not p.registered and not p.error]
    if not probes:
        state, message = UNKNOWN, NO_READY_PODS
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
    return {
        "pubsub": pubsub,
        "topic": topic,
        "state": state,
        "registered": registered,
        "message": message,
    }


def settle(
    raw: Mapping[str, Any],
    previous: Mapping[str, Any],
    *,
    probed: bool,
    streak: int,
    confirmations: int,
    now: datetime,
) -> dict[str, Any]:
    """The subscription to publish: ``raw`` once it has lasted ``streak >= confirmations``
    passes (or nothing was published for this pubsub/topic yet), else the previous one."""
    same_target = (previous.get("pubsub"), previous.get("topic")) == (raw["pubsub"], raw["topic"])
    published = previous.get("state") if same_target else None
    if published is not None and raw["state"] != published and streak < confirmations:
        sub = {k: previous.get(k) for k in (*_COMPARED, "message")}
    elif published is not None and all(previous.get(k) == raw[k] for k in _COMPARED):
        # Same finding in other words (a timeout instead of a refusal): keep the old text.
        sub = {**raw, "message": previous.get("message", raw["message"])}
    else:
        sub = dict(raw)
    # lastProbeTime is the time of the probes that established what is published: it moves
    # with the finding, never by itself, so a steady state writes nothing. How fresh the
    # probes are is the operator's metric (taskapi_operator_probe_age_seconds), not status.
    last = previous.get("lastProbeTime")
    unchanged = all(previous.get(k) == sub[k] for k in (*_COMPARED, "message"))
    if last and (unchanged or not probed):
        sub["lastProbeTime"] = last
    elif probed:
        sub["lastProbeTime"] = format_time(now)
    return sub


def subscription_condition(sub: Mapping[str, Any]) -> Cond:
    kind = names.COND_SUBSCRIPTION_HEALTHY
    state = sub["state"]
    if state == HEALTHY:
        return Cond(kind, "True", names.REASON_SUBSCRIPTION_REGISTERED, sub["message"])
    if state == UNHEALTHY:
        return Cond(kind, "False", names.REASON_SUBSCRIPTION_NOT_REGISTERED, sub["message"])
    no_pods = sub["message"] == NO_READY_PODS
    reason = names.REASON_NO_READY_PODS if no_pods else names.REASON_PROBE_FAILED
    return Cond(kind, "Unknown", reason, sub["message"])
