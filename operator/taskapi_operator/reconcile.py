"""Level-triggered reconcile of one TaskApi: parse, build, check ownership, apply, prune,
observe (from watch caches), write status."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from taskapi_operator import names
from taskapi_operator.builders import build_children
from taskapi_operator.builders.components import (
    component_names,
    referenced_components,
    referenced_secrets,
)
from taskapi_operator.cache import Caches, metadata_names, slim
from taskapi_operator.compare import stamped, up_to_date
from taskapi_operator.kube import Kube, KubeError
from taskapi_operator.model import InvalidSpecError, TaskApi
from taskapi_operator.ownership import conflict, controlled_by, stale
from taskapi_operator.probe import Prober
from taskapi_operator.schedule import Schedule
from taskapi_operator.secret_checks import SecretChecks
from taskapi_operator.settings import OperatorSettings
from taskapi_operator.status import (
    Observed,
    assess,
    compute_status,
    format_time,
    invalid_spec_status,
    live_pods,
    merge_patch,
    probe_targets,
    ready_lost,
    ready_of,
)
from taskapi_operator.triggers import SpecChanges

Key = tuple[str, str]  # (namespace, name)
# Metadata whose change needs a full pass; anything else (status, resourceVersion, managed
# fields) is the echo of a status write or noise.
_SPEC_METADATA = ("generation", "labels", "annotations", "deletionTimestamp", "uid")


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


def needs_full_pass(new: Mapping[str, Any], old: Mapping[str, Any] | None) -> bool:
    """False for the echo of the operator's own status write: same spec and metadata."""
    if old is None:
        return True
    new_meta, old_meta = new.get("metadata") or {}, old.get("metadata") or {}
    return any(new_meta.get(k) != old_meta.get(k) for k in _SPEC_METADATA) or new.get(
        "spec"
    ) != old.get("spec")


def _describe_apply_error(manifest: Mapping[str, Any], error: KubeError) -> str:
    what = f"{manifest['kind']}/{manifest['metadata']['name']}"
    if error.status == 404 and manifest["kind"] not in ("ServiceAccount", "Service"):
        api = manifest["apiVersion"]
        return (
            f"cannot create {what}: the API {api} is not served: is its operator (for "
            "dapr.io: Dapr) installed in this cluster?"
        )
    return f"cannot apply {what}: {error.message}"


class TransientError(Exception):
    """A pass stopped by a retryable API error: status is left as it was."""


@dataclass
class _Pending:
    again: bool = False
    task: asyncio.Task[None] | None = None


@dataclass
class _Outcome:
    applied: list[str]
    pruned: list[str]
    conflicts: list[str]
    apply_error: str | None = None


class Reconciler:
    """Keeps the latest body of each TaskApi and runs at most one pass per object at a time.

    Seams for the rest of the operator: ``gate`` (e.g. leadership: no pass while it says
    False), ``on_pass`` (called after every pass with key, seconds, outcome: metrics), and
    Kube's request observer (every API request).
    """

    def __init__(
        self,
        kube: Kube,
        caches: Caches,
        settings: OperatorSettings,
        logger: logging.Logger,
        *,
        clock: Callable[[], datetime] = _now,
        prober: Prober | None = None,
    ) -> None:
        self.kube = kube
        self.caches = caches
        self.settings = settings
        self._logger = logger
        self._clock = clock
        self.prober = prober or Prober(settings)
        self.secrets = SecretChecks(kube.secret_exists, settings.secret_check_seconds)
        self.schedule = Schedule(
            settings.resync_interval_seconds,
            settings.resync_jitter,
            settings.retry_base_seconds,
            settings.retry_max_seconds,
        )
        self.gate: Callable[[], bool] = lambda: True
        # At most this many passes run at once: 1000 TaskApis applied together must queue here,
        # not as 1000 concurrent writes in the apiserver (its ClusterIP allocator serializes
        # Service creates; requests queued there past the client timeout are retried and
        # leak addresses, and the queue never drains).
        self._passes = asyncio.Semaphore(settings.max_concurrent_passes)
        # Status passes (pods and Deployments becoming ready) have a lane of their own: queued
        # behind the full passes of 1000 new TaskApis, Ready would wait for all of them.
        self._status_passes = asyncio.Semaphore(settings.max_concurrent_passes)
        self.spec_changes = SpecChanges()  # which child events need a full pass
        self.on_pass: Callable[[Key, float, str], None] | None = None
        self._bodies: dict[Key, Mapping[str, Any]] = {}
        # Full and status passes of a TaskApi are requested apart, (key, full): a status pass
        # is not held back by a full pass waiting for its turn; _locks keeps them from running
        # at the same time.
        self._pending: dict[tuple[Key, bool], _Pending] = {}
        self._locks: dict[Key, asyncio.Lock] = {}
        self._streaks: dict[Key, tuple[str, int]] = {}
        self._losing_since: dict[Key, float] = {}
        # What the last apply of a child returned, until the watch cache has caught up with
        # it: a pass right after a write must not see the old object and write again.
        self._written: dict[tuple[str, str, str], Mapping[str, Any]] = {}
        self._events: dict[tuple[Key, str, str], float] = {}
        self.passes = 0

    # -- the cache fed by the TaskApi watch --------------------------------------------------

    def remember(self, body: Mapping[str, Any]) -> tuple[Key, bool]:
        """Store the newest body; True when it needs a full pass (not a status echo)."""
        key = key_of(body)
        old = self._bodies.get(key)
        if not _newer_or_same(body, old):
            return key, False
        self._bodies[key] = slim(body)  # 1000 TaskApis: their managedFields add up
        self.schedule.add(key, time.monotonic())
        return key, needs_full_pass(body, old)

    def forget(self, key: Key) -> None:
        self._bodies.pop(key, None)
        self._locks.pop(key, None)
        self._streaks.pop(key, None)
        self._losing_since.pop(key, None)
        self.schedule.remove(key)
        for written in [w for w in self._written if w[1] == key[0] and w[2].startswith(key[1])]:
            del self._written[written]

    def known(self) -> list[Key]:
        return list(self._bodies)

    def pending(self) -> int:
        return len(self._pending)

    def bodies(self) -> list[Mapping[str, Any]]:
        """The cached TaskApis (metrics count them by Ready reason; OP-HA)."""
        return list(self._bodies.values())

    # -- scheduling: many triggers, one pass at a time per object ----------------------------

    def kick(self, key: Key, *, full: bool) -> None:
        """Request a pass; ``full`` also applies children (pod changes only need status)."""
        if key not in self._bodies or not self.gate():
            return
        pending = self._pending.setdefault((key, full), _Pending())
        if pending.task is None or pending.task.done():
            pending.task = asyncio.create_task(self._drain(key, full, pending))
        else:
            pending.again = True

    def _later(self, delay: float, key: Key, *, full: bool) -> None:
        asyncio.get_running_loop().call_later(delay, lambda: self.kick(key, full=full))

    async def _drain(self, key: Key, full: bool, pending: _Pending) -> None:
        # Let a burst of watch events (e.g. a rollout) coalesce into one pass.
        await asyncio.sleep(0.05)
        lane = self._passes if full else self._status_passes
        try:
            while True:
                pending.again = False
                started, outcome = time.monotonic(), "ok"
                try:
                    async with lane, self._locks.setdefault(key, asyncio.Lock()):
                        # OP-HA: bounded concurrency (settings); one pass of a key at a time
                        started = time.monotonic()
                        await self.run_once(key, full=full)
                    self.schedule.succeeded(key)
                except (TransientError, KubeError) as e:
                    outcome = self._failed(key, e)
                except Exception:
                    outcome = "error"
                    self._logger.exception("Reconcile failed taskapi=%s/%s", *key)
                    self._later(self.schedule.failed(key), key, full=True)
                if full:
                    self.schedule.passed(key, time.monotonic())
                if self.on_pass is not None:
                    self.on_pass(key, time.monotonic() - started, outcome)
                if not pending.again:
                    break
        finally:
            self._pending.pop((key, full), None)

    def _failed(self, key: Key, error: Exception) -> str:
        cause = error.__cause__ if isinstance(error, TransientError) else error
        if isinstance(cause, KubeError) and cause.namespace_terminating:
            return "terminating"  # the namespace is going away with everything in it
        delay = self.schedule.failed(key)
        self._logger.warning(
            "Reconcile will retry taskapi=%s/%s delay=%.1fs attempt=%d err=%s",
            *key,
            delay,
            self.schedule.failures(key),
            cause,
        )
        self._later(delay, key, full=True)
        return "transient"

    async def resync_forever(self) -> None:
        """Periodic full passes, each TaskApi on its own jittered turn: probes stay current
        and missed passes are retried."""
        tick = min(1.0, self.settings.resync_interval_seconds / 4)
        while True:
            await asyncio.sleep(tick)
            for key in self.schedule.due(time.monotonic()):
                self.schedule.passed(key, time.monotonic())  # the next turn, even if gated
                self.kick(key, full=True)  # type: ignore[arg-type]

    async def stop(self) -> None:
        tasks = [p.task for p in self._pending.values() if p.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.prober.close()

    # -- one pass -----------------------------------------------------------------------------

    async def run_once(self, key: Key, *, full: bool) -> None:
        body = self._bodies.get(key)
        if body is None or body["metadata"].get("deletionTimestamp"):
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
        outcome = _Outcome([], [], [])
        if full and not taskapi.paused:
            outcome = await self._apply_children(taskapi)
        observed = await self._observe(taskapi, outcome)
        new = compute_status(
            taskapi,
            observed,
            previous,
            self._clock(),
            heartbeat_seconds=self.settings.status_heartbeat_seconds,
            confirmations=self.settings.probe_confirmations,
        )
        if not self._hold(key, previous, new):
            await self._write_status(key, body, previous, new)
            self._confirm_later(key, new, observed)
        changed = outcome.applied + [f"deleted {p}" for p in outcome.pruned]
        if changed:
            self._logger.info("Applied children taskapi=%s/%s children=%s", *key, ",".join(changed))
            await self._event(body, "Normal", "Applied", ", ".join(changed))

    async def _apply_children(self, taskapi: TaskApi) -> _Outcome:
        """Apply what differs, in dependency order; stop writing at the first conflict or
        lasting error (later children, e.g. the Deployment, depend on earlier ones)."""
        outcome = _Outcome([], [], [])
        wanted: set[tuple[str, str]] = set()
        for manifest in build_children(taskapi):
            kind = names.child_kind(manifest["apiVersion"], manifest["kind"])
            name = manifest["metadata"]["name"]
            wanted.add((kind.kind, name))
            if outcome.apply_error:
                continue
            live = self._fresher(
                kind.plural,
                taskapi.namespace,
                self.caches.child(kind, taskapi.namespace, taskapi.name, name),
                name,
            )
            try:
                if live is None:  # not ours by label: maybe someone else's, maybe absent
                    live = await self.kube.get(kind, taskapi.namespace, name)
                if live is not None and not controlled_by(live, taskapi.uid):
                    outcome.conflicts.append(conflict(kind, live))
                    continue
                if outcome.conflicts:
                    continue  # still looking, to name every conflict; writing nothing more
                applied = stamped(manifest)
                if not up_to_date(applied, live):
                    written = await self.kube.apply(applied)
                    self._written[(kind.plural, taskapi.namespace, name)] = slim(written)
                    self.spec_changes.wrote(kind.plural, written)
                    outcome.applied.append(f"{kind.kind}/{name}")
            except KubeError as e:
                if e.transient or e.namespace_terminating:
                    raise TransientError(str(e)) from e
                outcome.apply_error = _describe_apply_error(manifest, e)
        if not outcome.conflicts and not outcome.apply_error:
            outcome.pruned = await self._prune(taskapi, wanted)
        return outcome

    def _fresher(
        self, plural: str, namespace: str, cached: Mapping[str, Any] | None, name: str
    ) -> Mapping[str, Any] | None:
        """The cached child, or what the operator last wrote if the cache is behind it."""
        key = (plural, namespace, name)
        if cached is None:  # deleted, or not seen yet: the GET on a cache miss will tell
            self._written.pop(key, None)
            return None
        written = self._written.get(key)
        if written is None or _newer_or_same(cached, written):
            self._written.pop(key, None)  # the cache has caught up with the write
            return cached
        return written

    async def _prune(self, taskapi: TaskApi, wanted: set[tuple[str, str]]) -> list[str]:
        """Delete children this TaskApi controls that the spec no longer produces."""
        pruned = []
        for kind in names.CHILD_KINDS:
            cached = self.caches.children(kind, taskapi.namespace, taskapi.name)
            for name, uid in stale(kind, cached, taskapi.uid, wanted):
                try:
                    await self.kube.delete(kind, taskapi.namespace, name, uid)
                except KubeError as e:
                    if e.transient or e.namespace_terminating:
                        raise TransientError(str(e)) from e
                    if e.status != 409:  # uid precondition failed: already replaced
                        raise
                pruned.append(f"{kind.kind}/{name}")
        return pruned

    async def _observe(self, taskapi: TaskApi, outcome: _Outcome) -> Observed:
        ns, instance = taskapi.namespace, taskapi.name
        deployment = self.caches.child(
            names.child_kind("apps/v1", "Deployment"), ns, instance, names.deployment_name(instance)
        )
        if deployment is not None and not controlled_by(deployment, taskapi.uid):
            deployment = None  # someone else's: its state is not ours to report
        selector = names.selector_labels(instance).items()
        pods = [
            p
            for p in self.caches.children(names.PODS, ns, instance)
            if selector <= (p["metadata"].get("labels") or {}).items()
        ]
        missing_components, outbox_missing = self._components(taskapi)
        try:
            missing_secrets = await self.secrets.missing(ns, referenced_secrets(taskapi))
        except KubeError as e:
            if e.transient or e.namespace_terminating:
                raise TransientError(str(e)) from e
            raise
        pubsub = component_names(taskapi).pubsub
        probes = await self.prober.probe(
            probe_targets(live_pods(pods)), pubsub, taskapi.spec.pubsub.topic
        )
        return Observed(
            deployment=deployment,
            pods=pods,
            missing_components=missing_components,
            missing_secrets=missing_secrets,
            outbox_missing=outbox_missing,
            conflicts=outcome.conflicts,
            probes=probes,
            probed=bool(probes),
            probe_streak=self._streak(
                (ns, instance), assess(pubsub, taskapi.spec.pubsub.topic, probes)["state"]
            ),
            apply_error=outcome.apply_error,
        )

    def _components(self, taskapi: TaskApi) -> tuple[list[str], list[str]]:
        """Referenced components that are missing, and a referenced state store that lacks
        the outbox metadata, both from the Components cache."""
        ns = taskapi.namespace
        missing = [n for n in referenced_components(taskapi) if not self.caches.component(ns, n)]
        outbox: list[str] = []
        ref = taskapi.spec.state_store.ref
        if ref is not None and ref.name not in missing:
            found = self.caches.component(ns, ref.name) or {}
            if not set(names.OUTBOX_METADATA) <= metadata_names(found):
                outbox.append(ref.name)
        return missing, outbox

    def _hold(self, key: Key, previous: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
        """True while a loss of Ready has not lasted ready_hold_seconds: publish nothing yet
        and look again when the hold is over."""
        if not ready_lost(previous, new):
            self._losing_since.pop(key, None)
            return False
        now = time.monotonic()
        since = self._losing_since.setdefault(key, now)
        left = self.settings.ready_hold_seconds - (now - since)
        if left <= 0:
            self._losing_since.pop(key, None)
            return False
        self._later(left + 0.05, key, full=False)
        return True

    def _streak(self, key: Key, state: str) -> int:
        last, count = self._streaks.get(key, ("", 0))
        count = count + 1 if last == state else 1
        self._streaks[key] = (state, count)
        return count

    def _confirm_later(self, key: Key, new: Mapping[str, Any], observed: Observed) -> None:
        """A probe finding that differs from the published state is re-checked soon, so a
        lasting change is published after confirmations, not after several resyncs."""
        state, _ = self._streaks.get(key, ("", 0))
        if state and state != (new.get("subscription") or {}).get("state"):
            self._later(self.settings.probe_confirm_seconds, key, full=False)

    async def _event(self, body: Mapping[str, Any], kind: str, reason: str, message: str) -> None:
        """Post an Event unless the same one went out recently (no Event storms)."""
        key = key_of(body)
        now = time.monotonic()
        last = self._events.get((key, reason, message))
        if last is not None and now - last < self.settings.event_repeat_seconds:
            return
        self._events[(key, reason, message)] = now
        if len(self._events) > 10_000:  # bounded: drop what is old enough to repeat anyway
            horizon = now - self.settings.event_repeat_seconds
            self._events = {k: t for k, t in self._events.items() if t >= horizon}
        try:
            await self.kube.post_event(body, kind, reason, message, format_time(self._clock()))
        except KubeError as e:
            if e.namespace_terminating:
                return
            # An Event is a courtesy to the user; losing one must not fail the pass.
            self._logger.warning("Event not posted taskapi=%s/%s reason=%s err=%s", *key, reason, e)

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
            if e.transient or e.namespace_terminating:
                raise TransientError(str(e)) from e
            raise
        if key in self._bodies:
            self.remember(updated)
        before, after = ready_of(previous), ready_of(new)
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
