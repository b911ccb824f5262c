"""Read side of the operator: children, pods and components from kopf's watch indices.

Each watched kind is indexed by (namespace, app.kubernetes.io/instance); Components also by
(namespace, name), because a referenced Component is someone else's and carries no label of
ours. kopf starts handlers only once every index holds its initial listing, so a pass never
mistakes "not listed yet" for "absent". A pass reads these instead of GETting anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from taskapi_operator import names
from taskapi_operator.names import ChildKind

# Fields dropped from cached objects: large and never read.
_DROPPED_METADATA = ("managedFields",)
COMPONENTS_BY_NAME = "components_by_name"


def index_id(kind: ChildKind) -> str:
    """The kopf index (and handler kwarg) holding ``kind`` by instance."""
    return f"cached_{kind.plural}"


def slim(body: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in body.items() if k != "metadata"}
    meta = body.get("metadata") or {}
    out["metadata"] = {k: v for k, v in meta.items() if k not in _DROPPED_METADATA}
    return out


def by_instance(body: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Any]] | None:
    """Index function: an object the operator labelled, keyed by (namespace, instance)."""
    meta = body.get("metadata") or {}
    labels = meta.get("labels") or {}
    instance = labels.get(names.LABEL_INSTANCE)
    if labels.get(names.LABEL_MANAGED_BY) != names.MANAGER or not instance:
        return None
    return {(meta.get("namespace", ""), instance): slim(body)}


def by_name(body: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    meta = body.get("metadata") or {}
    return {(meta.get("namespace", ""), meta.get("name", "")): slim(body)}


def _values(index: Mapping[Any, Iterable[Any]] | None, key: tuple[str, str]) -> list[Any]:
    if index is None:
        return []
    store = index.get(key)
    return list(store) if store is not None else []


class Caches:
    """Lookups over kopf indices (``Mapping[key, Store]``; plain dicts of lists in tests)."""

    def __init__(self, indices: Mapping[str, Mapping[Any, Iterable[Any]]]) -> None:
        self._indices = indices

    def children(self, kind: ChildKind, namespace: str, instance: str) -> list[dict[str, Any]]:
        return _values(self._indices.get(index_id(kind)), (namespace, instance))

    def child(
        self, kind: ChildKind, namespace: str, instance: str, name: str
    ) -> dict[str, Any] | None:
        for obj in self.children(kind, namespace, instance):
            if obj["metadata"].get("name") == name:
                return obj
        return None

    def component(self, namespace: str, name: str) -> dict[str, Any] | None:
        found = _values(self._indices.get(COMPONENTS_BY_NAME), (namespace, name))
        return found[0] if found else None
