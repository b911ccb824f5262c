"""Dapr Component manifests for the components a TaskApi manages (references create nothing)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from taskapi_operator import names
from taskapi_operator.builders.common import child_metadata
from taskapi_operator.model import ComponentSpec, ManagedComponent, MetadataItem, TaskApi


def _metadata_item(item: MetadataItem) -> dict[str, Any]:
    if item.secret_key_ref is not None:
        ref = item.secret_key_ref
        return {"name": item.name, "secretKeyRef": {"name": ref.name, "key": ref.key}}
    return {"name": item.name, "value": item.value}


def outbox_metadata(taskapi: TaskApi) -> dict[str, str]:
    """Dapr's transactional outbox on the state store: each state transaction of the app also
    publishes its event (the ``outbox.projection`` operation) to the instance's topic, so a
    change and its event commit together."""
    return {
        names.OUTBOX_PUBLISH_PUBSUB: taskapi.component_names.pubsub,
        names.OUTBOX_PUBLISH_TOPIC: taskapi.spec.pubsub.topic,
        names.OUTBOX_DISCARD_WHEN_MISSING_STATE: "true",
    }


def _component(
    taskapi: TaskApi,
    managed: ManagedComponent,
    component: str,
    operator_metadata: dict[str, str],
) -> dict[str, Any]:
    # The operator's items replace the user's of the same name (the spec decides pub/sub and
    # topic once, for the app and the outbox alike).
    user = [_metadata_item(i) for i in managed.metadata if i.name not in operator_metadata]
    ours = [{"name": k, "value": v} for k, v in operator_metadata.items()]
    return {
        "apiVersion": names.DAPR_COMPONENT_API_VERSION,
        "kind": "Component",
        "metadata": child_metadata(
            taskapi, names.component_name(taskapi.name, component), component
        ),
        "spec": {
            "type": managed.type,
            "version": managed.version,
            "metadata": user + ours,
        },
        # Scoped so that other apps' sidecars in the namespace do not load it.
        "scopes": [taskapi.app_id],
    }


def build_components(taskapi: TaskApi) -> list[dict[str, Any]]:
    spec = taskapi.spec
    none: dict[str, str] = {}
    wanted: tuple[tuple[ComponentSpec, str, dict[str, str]], ...] = (
        (spec.state_store, names.COMPONENT_STATESTORE, outbox_metadata(taskapi)),
        (spec.pubsub, names.COMPONENT_PUBSUB, none),
        (spec.secret_store, names.COMPONENT_SECRETSTORE, none),
    )
    return [
        _component(taskapi, s.managed, c, extra) for s, c, extra in wanted if s.managed is not None
    ]


def components_hash(components: list[dict[str, Any]]) -> str:
    """Stable digest of the rendered Dapr resources (Components, Resiliency); it goes on the pod
    template."""
    essence = [
        {"name": c["metadata"]["name"], "spec": c["spec"], "scopes": c["scopes"]}
        for c in components
    ]
    rendered = json.dumps(essence, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(rendered.encode()).hexdigest()[:16]
