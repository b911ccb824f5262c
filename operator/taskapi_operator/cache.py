"""Read side of the operator: children, pods and components from kopf's watch indices.

Each watched kind is indexed by (namespace, app.kubernetes.io/instance); Components also by
(namespace, name), because a referenced Component is someone else's and carries no label of
ours. kopf starts handlers only once every index holds its initial listing, so a pass never
mistakes "not listed yet" for "absent". A pass reads these instead of GETting anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from taskapi_operator import names
from taskapi_operator.compact import compact
from taskapi_operator.names import Kind

# Fields dropped from cached objects: large and never read.
_DROPPED_METADATA = ("managedFields",)


def index_id(kind: Kind) -> str:
    """The kopf index (and handler kwarg) holding ``kind`` by instance."""
    return f"cached_{kind.plural}"


def named_index_id(kind: Kind) -> str:
    """The kopf index (and handler kwarg) holding a kind watched in full by (namespace, name)."""
    return f"{kind.plural}_by_name"


COMPONENTS_BY_NAME: Final = named_index_id(names.COMPONENTS)


def slim(body: Mapping[str, Any]) -> dict[str, Any]:
    """A child as compared with its manifest (compare.up_to_date reads any field we set):
    everything but the write history."""
    out = {k: v for k, v in body.items() if k != "metadata"}
    meta = body.get("metadata") or {}
    out["metadata"] = {k: v for k, v in meta.items() if k not in _DROPPED_METADATA}
    return compact(out)


def _pick(obj: Mapping[str, Any] | None, keys: Iterable[str]) -> dict[str, Any]:
    obj = obj or {}
    return {k: obj[k] for k in keys if k in obj}


def _picks(items: Any, keys: Iterable[str]) -> list[dict[str, Any]]:
    return [_pick(i, keys) for i in items or [] if isinstance(i, Mapping)]


def _container_statuses(items: Any) -> list[dict[str, Any]]:
    """Readiness, and what status/pods.py says of a container stuck waiting (its reason, the
    last exit code, the restarts): small, and only there while it is so."""
    out = []
    for item in _picks(items, ("name", "ready", "restartCount", "state", "lastState")):
        waiting = (item.pop("state", None) or {}).get("waiting") or {}
        terminated = (item.pop("lastState", None) or {}).get("terminated") or {}
        if "reason" in waiting:
            item["state"] = {"waiting": {"reason": waiting["reason"]}}
            if "exitCode" in terminated:
                item["lastState"] = {"terminated": {"exitCode": terminated["exitCode"]}}
        if not item.get("restartCount"):
            item.pop("restartCount", None)
        out.append(item)
    return out


def slim_pod(body: Mapping[str, Any]) -> dict[str, Any]:
    """A pod as status/pods.py and the selector check read it. A pod with its injected daprd
    is ~20x larger in full (env, args, volumes, managedFields) and there is one per replica:
    keeping only these fields is most of the operator's memory at 1000 TaskApis."""
    spec, status = body.get("spec") or {}, body.get("status") or {}
    slim: dict[str, Any] = {
        "metadata": _pick(
            body.get("metadata"),
            ("name", "namespace", "uid", "resourceVersion", "labels", "deletionTimestamp"),
        ),
        "spec": {
            "containers": _picks(spec.get("containers"), ("name",)),
            "initContainers": _picks(spec.get("initContainers"), ("name", "restartPolicy")),
        },
        "status": {
            **_pick(status, ("phase", "podIP")),
            "conditions": _picks(status.get("conditions"), ("type", "status")),
            "containerStatuses": _container_statuses(status.get("containerStatuses")),
            "initContainerStatuses": _container_statuses(status.get("initContainerStatuses")),
        },
    }
    return compact(slim)


def slim_component_ref(body: Mapping[str, Any]) -> dict[str, Any]:
    """A Component as a TaskApi referencing it is checked (Reconciler._components): that
    it exists, and the names (not values) of its metadata items. Every Component in the watched
    namespaces is indexed, the user's and ours, so each is kept this small."""
    spec = body.get("spec") or {}
    slim = {
        "metadata": _pick(body.get("metadata"), ("name", "namespace", "uid", "resourceVersion")),
        "spec": {"metadata": _picks(spec.get("metadata"), ("name",))},
    }
    return compact(slim)


def _instance_key(body: Mapping[str, Any]) -> tuple[str, str] | None:
    meta = body.get("metadata") or {}
    labels = meta.get("labels") or {}
    instance = labels.get(names.LABEL_INSTANCE)
    if labels.get(names.LABEL_MANAGED_BY) != names.MANAGER or not instance:
        return None
    return (meta.get("namespace", ""), instance)


def by_instance(body: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Any]] | None:
    """Index function: an object the operator labelled, keyed by (namespace, instance)."""
    key = _instance_key(body)
    return None if key is None else {key: slim(body)}


def metadata_names(component: Mapping[str, Any]) -> set[str]:
    """The names of a Component's metadata items (the outbox check needs no values)."""
    items = (component.get("spec") or {}).get("metadata") or []
    return {str(i["name"]) for i in items if isinstance(i, Mapping) and "name" in i}


def pod_by_instance(body: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Any]] | None:
    """Index function for pods: by_instance, keeping only what status reads (slim_pod)."""
    key = _instance_key(body)
    return None if key is None else {key: slim_pod(body)}


def by_name(body: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Index function for Components: what a reference to one reads (slim_component_ref)."""
    meta = body.get("metadata") or {}
    return {(meta.get("namespace", ""), meta.get("name", "")): slim_component_ref(body)}


def name_only(body: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Index function for the other kinds watched in full: only that the name is taken."""
    meta = body.get("metadata") or {}
    key = (meta.get("namespace", ""), meta.get("name", ""))
    return {key: {"metadata": {"name": key[1], "namespace": key[0]}}}


NamedIndex = Callable[[Mapping[str, Any]], dict[tuple[str, str], dict[str, Any]]]
# The kinds watched in full (names.WATCHED_IN_FULL), each indexed by (namespace, name) by the
# function that keeps what a pass reads of it: a Component what a reference reads, the others
# only that the name is taken. The operator's watches and the unit tests' fake both use this.
BY_NAME: Final[dict[Kind, NamedIndex]] = {
    kind: by_name if kind == names.COMPONENTS else name_only for kind in names.WATCHED_IN_FULL
}


def _values(index: Mapping[Any, Iterable[Any]] | None, key: tuple[str, str]) -> list[Any]:
    if index is None:
        return []
    store = index.get(key)
    return list(store) if store is not None else []


class Caches:
    """Lookups over kopf indices (``Mapping[key, Store]``; plain dicts of lists in tests)."""

    def __init__(self, indices: Mapping[str, Mapping[Any, Iterable[Any]]]) -> None:
        self._indices = indices

    def children(self, kind: Kind, namespace: str, instance: str) -> list[dict[str, Any]]:
        return _values(self._indices.get(index_id(kind)), (namespace, instance))

    def child(self, kind: Kind, namespace: str, instance: str, name: str) -> dict[str, Any] | None:
        for obj in self.children(kind, namespace, instance):
            if obj["metadata"].get("name") == name:
                return obj
        return None

    def component(self, namespace: str, name: str) -> dict[str, Any] | None:
        found = _values(self._indices.get(COMPONENTS_BY_NAME), (namespace, name))
        return found[0] if found else None

    def known_absent(self, kind: Kind, namespace: str, name: str) -> bool:
        """No object of this name exists, as far as a watch that sees every object of the
        kind can tell: names.WATCHED_IN_FULL only (the other kinds' watches see only what the
        operator labelled, so a miss there may be someone else's object: only a GET tells)."""
        index = named_index_id(kind)
        if kind not in BY_NAME or index not in self._indices:
            return False  # not such a kind, or its watch is not listed yet
        return not _values(self._indices[index], (namespace, name))
