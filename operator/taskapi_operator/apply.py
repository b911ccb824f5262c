"""Writing one TaskApi's children: apply what differs in dependency order, leave others'
objects alone, prune what the spec no longer produces."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from taskapi_operator import names
from taskapi_operator.builders import build_children
from taskapi_operator.cache import Caches
from taskapi_operator.compare import stamped, up_to_date
from taskapi_operator.entries import Entry
from taskapi_operator.errors import TransientError
from taskapi_operator.kube import KubeError
from taskapi_operator.model import TaskApi
from taskapi_operator.names import Kind
from taskapi_operator.ownership import conflict, controlled_by, stale
from taskapi_operator.triggers import SpecChanges


class ChildApi(Protocol):
    """The calls the applier makes (implemented by kube.Kube)."""

    async def get(self, kind: Kind, namespace: str, name: str) -> dict[str, Any] | None: ...

    async def apply(self, manifest: Mapping[str, Any]) -> dict[str, Any]: ...

    async def delete(self, kind: Kind, namespace: str, name: str, uid: str) -> None: ...


@dataclass
class Outcome:
    applied: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    apply_error: str | None = None

    @property
    def changed(self) -> list[str]:
        return self.applied + [f"deleted {p}" for p in self.pruned]


def describe_apply_error(manifest: Mapping[str, Any], error: KubeError) -> str:
    what = f"{manifest['kind']}/{manifest['metadata']['name']}"
    if error.status == 404 and manifest["kind"] not in ("ServiceAccount", "Service"):
        api = manifest["apiVersion"]
        return (
            f"cannot create {what}: the API {api} is not served: is its operator (for "
            "dapr.io: Dapr) installed in this cluster?"
        )
    return f"cannot apply {what}: {error.message}"


class Applier:
    def __init__(self, kube: ChildApi, caches: Caches, spec_changes: SpecChanges) -> None:
        self._kube = kube
        self._caches = caches
        self._spec_changes = spec_changes

    async def apply(self, taskapi: TaskApi, entry: Entry) -> Outcome:
        """Apply what differs, in dependency order; stop writing at the first conflict or
        lasting error (later children, e.g. the Deployment, depend on earlier ones)."""
        outcome = Outcome()
        wanted: set[tuple[str, str]] = set()
        for manifest in build_children(taskapi):
            kind = names.kind_of(manifest["apiVersion"], manifest["kind"])
            name = manifest["metadata"]["name"]
            wanted.add((kind.kind, name))
            if outcome.apply_error:
                continue
            cached = self._caches.child(kind, taskapi.namespace, taskapi.name, name)
            live = entry.freshest(kind.plural, name, cached)
            try:
                if live is None:  # not ours by label: maybe someone else's, maybe absent
                    live = await self._kube.get(kind, taskapi.namespace, name)
                if live is not None and not controlled_by(live, taskapi.uid):
                    outcome.conflicts.append(conflict(kind, live))
                    continue
                if outcome.conflicts:
                    continue  # still looking, to name every conflict; writing nothing more
                applied = stamped(manifest)
                if not up_to_date(applied, live):
                    written = await self._kube.apply(applied)
                    entry.wrote_child(kind.plural, written, (cached, live))
                    self._spec_changes.wrote(kind.plural, written)
                    outcome.applied.append(f"{kind.kind}/{name}")
            except TransientError:
                raise
            except KubeError as e:  # a lasting answer (invalid, forbidden): the user's to fix
                outcome.apply_error = describe_apply_error(manifest, e)
        if not outcome.conflicts and not outcome.apply_error:
            outcome.pruned = await self._prune(taskapi, wanted)
        return outcome

    async def _prune(self, taskapi: TaskApi, wanted: set[tuple[str, str]]) -> list[str]:
        """Delete children this TaskApi controls that the spec no longer produces."""
        pruned = []
        for kind in names.CHILD_KINDS:
            cached = self._caches.children(kind, taskapi.namespace, taskapi.name)
            for name, uid in stale(kind, cached, taskapi.uid, wanted):
                # A failed uid precondition (409: replaced meanwhile) is transient: the next
                # pass sees the newcomer in the cache.
                await self._kube.delete(kind, taskapi.namespace, name, uid)
                pruned.append(f"{kind.kind}/{name}")
        return pruned
