"""Thin kopf handlers: they feed the work queue and its caches; no finalizer, no progress.

Handlers are ``async``: kopf runs sync handlers in a thread pool, where the work queue's
asyncio tasks cannot be scheduled.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from taskapi_operator import cache, names, runtime
from taskapi_operator.entries import Key, key_of
from taskapi_operator.runtime import Runtime
from taskapi_operator.settings import OperatorSettings

logger = logging.getLogger("taskapi_operator")
# Kinds watched only for objects the operator labelled: filtered by the API server. The kinds
# watched in full are the exception (names.WATCHED_IN_FULL; cache.Caches.known_absent).
_SERVER_FILTERED = tuple(
    k for k in (*names.CHILD_KINDS, names.PODS) if k not in names.WATCHED_IN_FULL
)


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **kwargs: Any) -> None:
    """Tune kopf in one place and start the operator (runtime.py) with its periodic resync."""
    ours = OperatorSettings()
    settings.networking.request_timeout = ours.request_timeout_seconds
    settings.networking.connect_timeout = min(10.0, ours.request_timeout_seconds)
    settings.watching.server_timeout = ours.watch_server_timeout_seconds
    settings.watching.client_timeout = ours.watch_client_timeout_seconds
    settings.watching.chunk_size = ours.list_chunk_size or None
    for kind in _SERVER_FILTERED:
        settings.watching.label_selectors[kind.group, kind.plural] = names.managed_selector()
    # Only on.event/index/probe handlers exist, so kopf keeps no progress; should a
    # state-tracking handler be added, its bookkeeping goes to annotations, never to status.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=names.GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=names.GROUP, key="last-handled-configuration"
    )
    settings.posting.reporting_component = names.MANAGER
    # No kopf peering (priority-based, not one-active): replica.py elects a leader on a Lease.
    settings.peering.standalone = True
    indices = {k: v for k, v in kwargs.items() if k.startswith("cached_")}
    indices |= {index: kwargs[index] for index in map(cache.named_index_id, cache.BY_NAME)}
    memo["runtime"] = await runtime.start(settings, indices, ours, logger)
    logger.info(
        "Started field_manager=%s probe_port=%d resync=%ss namespaces=%s",
        ours.field_manager,
        ours.probe_port,
        ours.resync_interval_seconds,
        ",".join(ours.namespaces) or "*",
    )


@kopf.on.cleanup()
async def shutdown(memo: kopf.Memo, **_: Any) -> None:
    running: Runtime | None = memo.get("runtime")
    if running is not None:
        await running.stop()


@kopf.on.probe(id="reconciler")
def liveness(memo: kopf.Memo, **_: Any) -> dict[str, Any]:
    """The liveness endpoint reports what the reconciler has done (tests read it too)."""
    running: Runtime = memo["runtime"]
    counters = running.kube.counters
    return {
        "taskapis": len(running.entries),
        "passes": running.reconciler.passes,
        "reads": counters.reads,
        "writes": counters.writes,
        "requests": dict(counters.by_verb),
        "probes": running.prober.probes,
    }


@kopf.on.event(names.GROUP, names.VERSION, names.PLURAL)
async def taskapi_changed(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """A TaskApi event schedules a full pass, except the echo of the operator's own status
    write (same spec and metadata), which needs none."""
    running: Runtime = memo["runtime"]
    if type == "DELETED":
        # Children go with it through their ownerReferences (garbage collection).
        running.entries.forget(key_of(body))
        return
    new = key_of(body) not in running.entries
    key, full = running.entries.remember(dict(body))
    if full:
        # never reconciled by anyone (no status): an arrival, which may be part of a burst
        running.queue.kick(key, full=True, new=new and not body.get("status"))


def _owner_key(body: kopf.Body) -> Key | None:
    for ref in body["metadata"].get("ownerReferences") or []:
        if ref.get("kind") == names.KIND and ref.get("apiVersion") == names.API_VERSION:
            return (body["metadata"]["namespace"], ref["name"])
    return None


async def _on_child(
    type: str | None, body: kopf.Body, resource: kopf.Resource, memo: kopf.Memo, **_: Any
) -> None:
    """A child's change or deletion schedules a full pass (drift is undone promptly); a
    status-only change (a Deployment's pods becoming ready) a status pass."""
    key = _owner_key(body)
    if key is not None:
        running: Runtime = memo["runtime"]
        entry = running.entries.get(key)
        if entry is not None:
            entry.seen_child(resource.plural, body)
        full = running.spec_changes.changed(resource.plural, body, deleted=type == "DELETED")
        running.queue.kick(key, full=full)


# Index functions are async too, though they never await: kopf runs a sync handler in its
# thread pool, a hand-off per watch event (tens of thousands in a mass create) for a few
# microseconds of dict work, contending with the event loop for the GIL.
async def _index_by_instance(body: kopf.Body, **_: Any) -> Any:
    return cache.by_instance(body)


async def _index_pod_by_instance(body: kopf.Body, **_: Any) -> Any:
    return cache.pod_by_instance(body)


def _index_named(pick: cache.NamedIndex) -> Any:
    async def index(body: kopf.Body, **_: Any) -> Any:
        return pick(body)

    return index


_MANAGED = {names.LABEL_MANAGED_BY: names.MANAGER}
for _kind in names.CHILD_KINDS:
    kopf.on.event(
        _kind.group, _kind.version, _kind.plural, labels=_MANAGED, id=f"child-{_kind.plural}"
    )(_on_child)
    kopf.index(_kind.group, _kind.version, _kind.plural, id=cache.index_id(_kind))(
        _index_by_instance
    )
kopf.index(names.PODS.group, names.PODS.version, names.PODS.plural, id=cache.index_id(names.PODS))(
    _index_pod_by_instance
)
for _kind, _pick in cache.BY_NAME.items():
    kopf.index(_kind.group, _kind.version, _kind.plural, id=cache.named_index_id(_kind))(
        _index_named(_pick)
    )


@kopf.on.event("", "v1", "pods", labels=_MANAGED)
async def pod_changed(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Pod readiness changes only need a status pass (pods are the ReplicaSet's, not ours)."""
    instance = body["metadata"].get("labels", {}).get(names.LABEL_INSTANCE)
    if instance:
        running: Runtime = memo["runtime"]
        running.queue.kick((body["metadata"]["namespace"], instance), full=False)
