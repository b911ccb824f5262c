"""Thin kopf handlers: they only feed the Reconciler; no finalizer, no progress in status.

Handlers are ``async``: kopf runs sync handlers in a thread pool, where the Reconciler's
asyncio tasks cannot be scheduled.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from taskapi_operator import names, replica
from taskapi_operator.kube import Kube, load_api_client
from taskapi_operator.reconcile import Key, Reconciler
from taskapi_operator.settings import OperatorSettings

logger = logging.getLogger("taskapi_operator")
# The running reconciler: tests read its counters; handlers reach it through memo.
RUNNING: dict[str, Reconciler] = {}

_MANAGED = {names.LABEL_MANAGED_BY: names.MANAGER}
# Children whose changes (or deletion) trigger a full pass: drift is undone promptly.
_CHILD_KINDS = (
    ("", "v1", "services"),
    ("", "v1", "serviceaccounts"),
    ("apps", "v1", "deployments"),
    ("rbac.authorization.k8s.io", "v1", "rolebindings"),
    ("dapr.io", "v1alpha1", "components"),
)


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Tune kopf in one place and start the reconciler with its periodic resync."""
    ours = OperatorSettings()
    settings.networking.request_timeout = ours.request_timeout_seconds
    settings.networking.connect_timeout = min(10.0, ours.request_timeout_seconds)
    settings.watching.server_timeout = ours.watch_server_timeout_seconds
    settings.watching.client_timeout = ours.watch_client_timeout_seconds
    # Only on.event/probe handlers exist, so kopf keeps no progress; should a state-tracking
    # handler ever be added, its bookkeeping goes to annotations, never to pruned status.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=names.GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=names.GROUP, key="last-handled-configuration"
    )
    settings.posting.reporting_component = names.MANAGER
    # No kopf peering (priority-based, not one-active): replica.py elects a leader on a Lease.
    settings.peering.standalone = True
    kube = Kube(load_api_client(ours), ours.field_manager, ours.request_timeout_seconds)
    reconciler = Reconciler(kube, ours, logger)
    memo["reconciler"] = reconciler
    memo["resync"] = asyncio.create_task(reconciler.resync_forever())
    memo["replica"] = await replica.start(reconciler, kube, ours, logger)  # OP-HA hook
    RUNNING["reconciler"] = reconciler
    logger.info(
        "Started field_manager=%s probe_port=%d resync=%ss namespaces=%s",
        ours.field_manager,
        ours.probe_port,
        ours.resync_interval_seconds,
        ",".join(ours.namespaces) or "*",
    )


@kopf.on.cleanup()
async def shutdown(memo: kopf.Memo, **_: Any) -> None:
    running: replica.Replica | None = memo.get("replica")
    if running is not None:
        await running.stop()  # first: stop leading and release the Lease
    resync: asyncio.Task[None] | None = memo.get("resync")
    if resync is not None:
        resync.cancel()
        await asyncio.gather(resync, return_exceptions=True)
    reconciler: Reconciler | None = memo.get("reconciler")
    if reconciler is not None:
        await reconciler.stop()
    RUNNING.pop("reconciler", None)


@kopf.on.probe(id="reconciler")
def liveness(memo: kopf.Memo, **_: Any) -> dict[str, int]:
    """The liveness endpoint reports what the reconciler has done (tests read it too)."""
    reconciler: Reconciler = memo["reconciler"]
    counters = reconciler.kube.counters
    return {
        "taskapis": len(reconciler.known()),
        "passes": reconciler.passes,
        "reads": counters.reads,
        "writes": counters.writes,
    }


@kopf.on.event(names.GROUP, names.VERSION, names.PLURAL)
async def taskapi_changed(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Every event of a TaskApi (including the initial listing) schedules a full pass."""
    reconciler: Reconciler = memo["reconciler"]
    if type == "DELETED":
        # Children go with it through their ownerReferences (garbage collection).
        reconciler.forget((body["metadata"]["namespace"], body["metadata"]["name"]))
        return
    reconciler.kick(reconciler.remember(dict(body)), full=True)


def _owner_key(body: kopf.Body) -> Key | None:
    for ref in body["metadata"].get("ownerReferences") or []:
        if ref.get("kind") == names.KIND and ref.get("apiVersion") == names.API_VERSION:
            return (body["metadata"]["namespace"], ref["name"])
    return None


async def _on_child(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    key = _owner_key(body)
    if key is not None:
        memo["reconciler"].kick(key, full=True)


for _group, _version, _plural in _CHILD_KINDS:
    kopf.on.event(_group, _version, _plural, labels=_MANAGED, id=f"child-{_plural}")(_on_child)


@kopf.on.event("", "v1", "pods", labels=_MANAGED)
async def pod_changed(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Pod readiness changes only need a status pass (pods are the ReplicaSet's, not ours)."""
    instance = body["metadata"].get("labels", {}).get(names.LABEL_INSTANCE)
    if instance:
        memo["reconciler"].kick((body["metadata"]["namespace"], instance), full=False)
