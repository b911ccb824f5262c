"""Level-triggered reconcile of one TaskApi: parse, build, apply, observe, write status."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from taskapi_operator import metrics, names
from taskapi_operator.builders import build_children
from taskapi_operator.builders.components import (
    component_names,
    referenced_components,
    referenced_secrets,
)
from taskapi_operator.kube import Kube, KubeError
from taskapi_operator.model import InvalidSpecError, TaskApi
from taskapi_operator.probe import probe_pods
from taskapi_operator.settings import OperatorSettings
from taskapi_operator.status import (
    Observed,
    compute_status,
    format_time,
    invalid_spec_status,
    live_pods,
    merge_patch,
)

Key = tuple[str, str]  # (namespace, name)


def key_of(body: Mapping[str, Any]) -> Key:
    meta = body["metadata"]
    return (meta["namespace"], meta["name"])


def _now() -> datetime:
    return datetime.now(UTC)


def _newer_or_same(candidate: Mapping[str, Any], current: Mapping[str, Any] | None) -> bool:
    if current is None:
        return True
    try:
        new = int(candidate["metadata"]["resourceVersion"])
        old = int(current["metadata"]["resourceVersion"])
    except (KeyError, TypeError, ValueError):
        return True
    return new >= old


def _ready(status: Mapping[str, Any]) -> tuple[str, str, str]:
    for cond in status.get("conditions") or []:
        if cond.get("type") == names.COND_READY:
            return (cond.get("status", ""), cond.get("reason", ""), cond.get("message", ""))
    return ("", "", "")


def _describe_apply_error(manifest: Mapping[str, Any], error: KubeError) -> str:
    what = f"{manifest['kind']}/{manifest['metadata']['name']}"
    if error.status == 404 and manifest["kind"] == "Component":
        return (
            f"cannot create {what}: the Dapr Component API (dapr.io/v1alpha1) is not "
            "served: is Dapr installed in this cluster?"
        )
    return f"cannot apply {what}: {error.message}"


def _namespace_terminating(error: KubeError) -> bool:
    return error.status == 403 and "being terminated" in error.message


@dataclass
class _Pending:
    full: bool = False
    again: bool = False
    task: asyncio.Task[None] | None = None


class Reconciler:
    """Keeps the latest body of each TaskApi and runs at most one pass per object at a time."""

    def __init__(
        self,
        kube: Kube,
        settings: OperatorSettings,
        logger: logging.Logger,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.kube = kube
        self.settings = settings
        self._logger = logger
        self._clock = clock
        self._bodies: dict[Key, Mapping[str, Any]] = {}
        self._pending: dict[Key, _Pending] = {}
        self.passes = 0
        # OP-HA hooks: only the leader reconciles (leadership.py flips ``active``), and
        # liveness watches ``last_progress`` while work is pending (health.py).
        self.active = True
        self.last_progress = time.monotonic()

    # -- the cache fed by the TaskApi watch --------------------------------------------------

    def remember(self, body: Mapping[str, Any]) -> Key:
        key = key_of(body)
        if _newer_or_same(body, self._bodies.get(key)):
            self._bodies[key] = body
        return key

    def forget(self, key: Key) -> None:
        self._bodies.pop(key, None)

    def known(self) -> list[Key]:
        return list(self._bodies)

    def bodies(self) -> list[Mapping[str, Any]]:
        return list(self._bodies.values())

    # -- scheduling: many triggers, one pass at a time per object ----------------------------

    def kick(self, key: Key, *, full: bool) -> None:
        """Request a pass; ``full`` also applies children (pod changes only need status)."""
        if key not in self._bodies or not self.active:
            return
        if not self._pending:
            self.last_progress = time.monotonic()  # idle until now: the clock starts here
        pending = self._pending.setdefault(key, _Pending())
        pending.full = pending.full or full
        if pending.task is None or pending.task.done():
            pending.task = asyncio.create_task(self._drain(key, pending))
        else:
            pending.again = True

    async def _drain(self, key: Key, pending: _Pending) -> None:
        # Let a burst of watch events (e.g. a rollout) coalesce into one pass.
        await asyncio.sleep(0.05)
        try:
            while True:
                full, pending.full, pending.again = pending.full, False, False
                started = time.monotonic()
                try:
                    await self.run_once(key, full=full)
                except KubeError as e:
                    if not _namespace_terminating(e):
                        metrics.count_error(f"HTTP{e.status}")
                        self._logger.exception("Reconcile failed taskapi=%s/%s", *key)
                except Exception as e:
                    metrics.count_error(type(e).__name__)
                    self._logger.exception("Reconcile failed taskapi=%s/%s", *key)
                self.last_progress = time.monotonic()
                metrics.observe_pass(full, self.last_progress - started)
                if not pending.again:
                    break
        finally:
            self._pending.pop(key, None)

    async def resync_forever(self) -> None:
        """Periodic full pass: probes stay current and missed or failed passes are retried."""
        while True:
            await asyncio.sleep(self.settings.resync_interval_seconds)
            for key in self.known():
                self.kick(key, full=True)

    def pending_count(self) -> int:
        return len(self._pending)

    async def activate(self) -> None:
        """Leadership gained: reconcile everything the warm cache knows."""
        self.active = True
        for key in self.known():
            self.kick(key, full=True)

    async def deactivate(self) -> None:
        """Leadership lost: stop every pass now, write nothing more."""
        self.active = False
        await self.stop()

    async def stop(self) -> None:
        tasks = [p.task for p in self._pending.values() if p.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- one pass -----------------------------------------------------------------------------

    async def run_once(self, key: Key, *, full: bool) -> None:
        body = self._bodies.get(key)
        if body is None:
            return
        if body["metadata"].get("deletionTimestamp"):
            return  # being deleted: garbage collection takes the children
        self.passes += 1
        previous: Mapping[str, Any] = body.get("status") or {}
        try:
            taskapi = TaskApi.from_body(body)
        except InvalidSpecError as e:
            meta = body["metadata"]
            new = invalid_spec_status(
                previous, int(meta.get("generation", 0)), str(e), self._clock()
            )
            await self._write_status(key, body, previous, new)
            return
        applied: list[str] = []
        apply_error = None
        if full and not taskapi.paused:
            applied, apply_error = await self._apply_children(taskapi)
        observed = await self._observe(taskapi, apply_error)
        new = compute_status(
            taskapi, observed, previous, self._clock(), self.settings.status_heartbeat_seconds
        )
        await self._write_status(key, body, previous, new)
        if applied:
            self._logger.info("Applied children taskapi=%s/%s children=%s", *key, ",".join(applied))
            await self._event(body, "Normal", "Applied", "applied " + ", ".join(applied))

    async def _apply_children(self, taskapi: TaskApi) -> tuple[list[str], str | None]:
        applied = []
        for manifest in build_children(taskapi):
            try:
                if await self.kube.apply(manifest):
                    applied.append(f"{manifest['kind']}/{manifest['metadata']['name']}")
            except KubeError as e:
                if _namespace_terminating(e):
                    raise  # the namespace is going away with everything in it
                # Stop at the first failure: later children (the Deployment) depend on it.
                return applied, _describe_apply_error(manifest, e)
        return applied, None

    async def _observe(self, taskapi: TaskApi, apply_error: str | None) -> Observed:
        ns = taskapi.namespace
        deployment = await self.kube.get(
            "apps/v1", "Deployment", ns, names.deployment_name(taskapi.name)
        )
        pods = await self.kube.list("v1", "Pod", ns, names.selector_labels(taskapi.name))
        missing_components = [
            n
            for n in referenced_components(taskapi)
            if await self.kube.get(names.DAPR_COMPONENT_API_VERSION, "Component", ns, n) is None
        ]
        missing_secrets = await self._missing_secrets(taskapi)
        by_name = {p["metadata"]["name"]: p for p in pods}
        targets = [
            (v.name, by_name[v.name]["status"]["podIP"])
            for v in live_pods(pods)
            if v.ready and (by_name[v.name].get("status") or {}).get("podIP")
        ]
        probes = await probe_pods(
            self.settings, targets, component_names(taskapi).pubsub, taskapi.spec.pubsub.topic
        )
        metrics.count_probes(probes)  # OP-HA hook
        return Observed(
            deployment=deployment,
            pods=pods,
            missing_components=missing_components,
            missing_secrets=missing_secrets,
            probes=probes,
            apply_error=apply_error,
        )

    async def _missing_secrets(self, taskapi: TaskApi) -> list[str]:
        """Referenced Secrets known not to exist.

        deploy/operator grants no access to Secrets, so by default every GET is forbidden:
        that means "cannot verify", not "missing". Granting the operator ``get`` on secrets
        in a namespace (a Role + RoleBinding there) turns the SecretNotFound check on.
        """
        missing = []
        for name in referenced_secrets(taskapi):
            try:
                found = await self.kube.get("v1", "Secret", taskapi.namespace, name)
            except KubeError as e:
                if e.status == 403:
                    continue
                raise
            if found is None:
                missing.append(name)
        return missing

    async def _event(self, body: Mapping[str, Any], kind: str, reason: str, message: str) -> None:
        try:
            await self.kube.post_event(body, kind, reason, message, format_time(self._clock()))
        except KubeError as e:
            if _namespace_terminating(e):
                return
            # An Event is a courtesy to the user; losing one must not fail the pass.
            meta = body["metadata"]
            self._logger.warning(
                "Event not posted taskapi=%s/%s reason=%s err=%s",
                meta["namespace"],
                meta["name"],
                reason,
                e,
            )

    async def _write_status(
        self, key: Key, body: Mapping[str, Any], previous: Mapping[str, Any], new: Mapping[str, Any]
    ) -> None:
        patch = merge_patch(previous, new)
        if not patch:
            return  # steady state: nothing to write
        try:
            updated = await self.kube.patch_status(key[0], key[1], patch)
        except KubeError as e:
            if e.status == 404:
                return  # deleted meanwhile
            raise
        if key in self._bodies:
            self.remember(updated)
        before, after = _ready(previous), _ready(new)
        if before[:2] != after[:2]:
            kind = "Normal" if after[0] == "True" else "Warning"
            await self._event(body, kind, after[1], after[2])
            self._logger.info(
                "Ready changed taskapi=%s/%s status=%s reason=%s", *key, after[0], after[1]
            )
        old_sub = (previous.get("subscription") or {}).get("state")
        new_sub = (new.get("subscription") or {}).get("state")
        if old_sub != new_sub and new_sub is not None:
            kind = "Warning" if new_sub == "Unhealthy" else "Normal"
            await self._event(
                body,
                kind,
                f"Subscription{new_sub}",
                (new.get("subscription") or {}).get("message", ""),
            )
