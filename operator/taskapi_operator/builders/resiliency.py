"""Dapr Resiliency of a managed pub/sub: retry event delivery before dead-lettering it.

Without a retry policy a subscription with a dead-letter topic dead-letters an event on the
app's first RETRY answer (dapr/dapr#5511), so one brief notifier error would send a completion
straight to the dead-letter topic. components/resiliency.yaml does the same for the plain set.
"""

from __future__ import annotations

from typing import Any

from taskapi_operator import names
from taskapi_operator.builders.common import child_metadata
from taskapi_operator.model import TaskApi


def build_resiliency(taskapi: TaskApi) -> list[dict[str, Any]]:
    """Only for a managed pub/sub: a referenced one may already have its owner's Resiliency,
    and Dapr would apply both (the user configures retries where the component lives)."""
    pubsub = taskapi.spec.pubsub
    if pubsub.managed is None:
        return []
    retries = pubsub.delivery_retries
    return [
        {
            "apiVersion": names.DAPR_COMPONENT_API_VERSION,
            "kind": names.DAPR_RESILIENCY_KIND,
            "metadata": child_metadata(
                taskapi, names.resiliency_name(taskapi.name), names.COMPONENT_PUBSUB
            ),
            "spec": {
                "policies": {
                    "retries": {
                        names.DAPR_EVENT_DELIVERY_POLICY: {
                            "policy": "exponential",
                            "maxInterval": retries.max_interval,
                            "maxRetries": retries.max_retries,
                        }
                    }
                },
                "targets": {
                    "components": {
                        names.component_name(taskapi.name, names.COMPONENT_PUBSUB): {
                            "inbound": {"retry": names.DAPR_EVENT_DELIVERY_POLICY}
                        }
                    }
                },
            },
            # Loaded only by this instance's sidecars.
            "scopes": [taskapi.app_id],
        }
    ]
