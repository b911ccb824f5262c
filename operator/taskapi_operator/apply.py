"""Writing one TaskApi's children: apply what differs in dependency order (independent
children at once), leave others' objects alone, prune what the spec no longer produces."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

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


def waves(children: Sequence[T], kind: Callable[[T], str]) -> list[list[T]]:
    """The children (in build order) in the order they may be written: the Deployment, and
    what follows it, after everything before it (daprd reads its Components and Resiliency
    only when it starts, and a pod needs its ServiceAccount); the children of one wave at
    once."""
    for i, child in enumerate(children):
        if kind(child) == "Deployment":
            return [list(w) for w in (children[:i], children[i:]) if w]
    return [list(children)]


T = TypeVar("T")


@dataclass
class _Child:
    """One manifest of a pass and what is known of its live object."""

    manifest: dict[str, Any]
    kind: Kind
    cached: Mapping[str, Any] | None
    live: Mapping[str, Any] | None = None

    @property
    def name(self) -> str:
        return str(self.manifest["metadata"]["name"])


def _raise_transient(results: list[BaseException | Any]) -> None:
    """The first error worth a retry, once every request of the wave has ended."""
    for result in results:
        if isinstance(result, TransientError):
            raise result
        if isinstance(result, BaseException) and not isinstance(result, KubeError):
            raise result  # a bug: not the user's to fix


class Applier:
    def __init__(self, kube: ChildApi, caches: Caches, spec_changes: SpecChanges) -> None:
        self._kube = kube
        self._caches = caches
        self._spec_changes = spec_changes

    async def apply(self, taskapi: TaskApi, entry: Entry) -> Outcome:
        """Apply what differs, wave by wave (``waves``), the requests of a wave at once: a
        new TaskApi's first pass costs three round trips, not one per read and write.

        Nothing is written while a child's name is someone else's (every conflict is named),
        and after a lasting error no later wave is (the Deployment depends on what comes
        before it)."""
        outcome = Outcome()
        children = []
        for manifest in build_children(taskapi):
            kind = names.kind_of(manifest["apiVersion"], manifest["kind"])
            cached = self._caches.child(
                kind, taskapi.namespace, taskapi.name, manifest["metadata"]["name"]
            )
            child = _Child(manifest, kind, cached)
            child.live = entry.freshest(kind.plural, child.name, cached)
            children.append(child)
        await self._read_unknown(taskapi, children, outcome)
        outcome.conflicts = [
            conflict(c.kind, c.live)
            for c in children
            if c.live is not None and not controlled_by(c.live, taskapi.uid)
        ]
        if outcome.conflicts or outcome.apply_error:
            return outcome
        for wave in waves(children, lambda c: str(c.manifest["kind"])):
            outcome.apply_error = await self._write(entry, wave, outcome)
            if outcome.apply_error:
                return outcome
        wanted = {(c.kind.kind, c.name) for c in children}
        outcome.pruned = await self._prune(taskapi, wanted)
        return outcome

    async def _read_unknown(
        self, taskapi: TaskApi, children: list[_Child], outcome: Outcome
    ) -> None:
        """GET the children the caches do not hold as ours: absent, or maybe someone else's
        (not for a Component no Component of its name exists for: every one is watched)."""
        unknown = [
            c
            for c in children
            if c.live is None and not self._caches.known_absent(c.kind, taskapi.namespace, c.name)
        ]
        results = await asyncio.gather(
            *(self._kube.get(c.kind, taskapi.namespace, c.name) for c in unknown),
            return_exceptions=True,
        )
        _raise_transient(results)
        for child, result in zip(unknown, results, strict=True):
            if isinstance(result, KubeError):  # a lasting answer (forbidden): the user's to fix
                outcome.apply_error = outcome.apply_error or describe_apply_error(
                    child.manifest, result
                )
            elif not isinstance(result, BaseException):
                child.live = result

    async def _write(self, entry: Entry, wave: list[_Child], outcome: Outcome) -> str | None:
        """Apply the wave's children that differ, at once; the first lasting error, if any."""
        stamped_wave = [(c, stamped(c.manifest)) for c in wave]
        due = [(c, applied) for c, applied in stamped_wave if not up_to_date(applied, c.live)]
        results = await asyncio.gather(
            *(self._kube.apply(applied) for _, applied in due), return_exceptions=True
        )
        for (child, _), result in zip(due, results, strict=True):
            if isinstance(result, BaseException):
                continue
            entry.wrote_child(child.kind.plural, result, (child.cached, child.live))
            self._spec_changes.wrote(child.kind.plural, result)
            outcome.applied.append(f"{child.kind.kind}/{child.name}")
        _raise_transient(results)
        for (child, _), result in zip(due, results, strict=True):
            if isinstance(result, KubeError):  # a lasting answer (invalid, forbidden)
                return describe_apply_error(child.manifest, result)
        return None

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
