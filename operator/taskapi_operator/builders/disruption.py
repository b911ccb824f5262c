"""The PodDisruptionBudget that keeps a multi-replica Task API serving through node drains."""

from __future__ import annotations

from typing import Any

from taskapi_operator import names
from taskapi_operator.builders.common import child_metadata
from taskapi_operator.model import TaskApi


def build_disruption_budget(taskapi: TaskApi) -> list[dict[str, Any]]:
    """One voluntary eviction at a time, and only when another replica can serve meanwhile.

    With one replica a budget would either block drains forever (maxUnavailable 0) or allow
    the only pod to go (maxUnavailable 1, i.e. no protection): so none is rendered, and the
    operator's prune removes one left from a time with more replicas.
    """
    if taskapi.spec.replicas <= 1:
        return []
    return [
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": child_metadata(
                taskapi, names.disruption_budget_name(taskapi.name), names.COMPONENT_API
            ),
            "spec": {
                "maxUnavailable": 1,
                "selector": {"matchLabels": names.selector_labels(taskapi.name)},
                # Pods that are not ready yet may be evicted: a crash-looping rollout must not
                # block a node drain (the Kubernetes-recommended policy since 1.27).
                "unhealthyPodEvictionPolicy": "AlwaysAllow",
            },
        }
    ]
