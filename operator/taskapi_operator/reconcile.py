"""One level-triggered pass over one TaskApi: parse, apply children, observe (from watch
caches), compute status, publish. The work queue (workqueue.py) decides when it runs."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from taskapi_operator import names
from taskapi_operator.apply import Applier, Outcome
from taskapi_operator.cache import Caches, metadata_names
from taskapi_operator.entries import Entries, Entry, Key
from taskapi_operator.events import EventRecorder
from taskapi_operator.model import InvalidSpecError, TaskApi
from taskapi_operator.ownership import controlled_by
from taskapi_operator.publish import StatusPublisher
from taskapi_operator.secret_checks import SecretChecks
from taskapi_operator.settings import OperatorSettings
from taskapi_operator.status import (
    Observed,
    PodProbe,
    StatusPolicy,
    assess,
    compute_status,
    invalid_spec_status,
    live_pods,
    probe_targets,
)
from taskapi_operator.workqueue import Result

_DEPLOYMENTS = names.kind_of("apps/v1", "Deployment")


def _now() -> datetime:
    return datetime.now(UTC)


def status_policy(settings: OperatorSettings) -> StatusPolicy:
    """The policy production runs with: tests take it from here too."""
    return StatusPolicy(confirmations=settings.probe_confirmations)


class Probe(Protocol):
    """Asks pods' sidecars about the subscription (implemented by probe.Prober)."""

    async def probe(
        self, pods: Iterable[tuple[str, str]], pubsub: str, topic: str
    ) -> list[PodProbe]: ...


class Reconciler:
    """``reconcile(key, full)``: one pass; every collaborator is given to the constructor."""

    def __init__(
        self,
        *,
        entries: Entries,
        caches: Caches,
        applier: Applier,
        prober: Probe,
        secrets: SecretChecks,
        publisher: StatusPublisher,
        events: EventRecorder,
        policy: StatusPolicy,
        logger: logging.Logger,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._entries = entries
        self._caches = caches
        self._applier = applier
        self._prober = prober
        self._secrets = secrets
        self._publisher = publisher
        self._events = events
        self._policy = policy
        self._logger = logger
        self._clock = clock
        self.passes = 0

    async def reconcile(self, key: Key, full: bool) -> Result:
        """One pass; ``full`` also applies children. A TransientError leaves status as it
        was (the work queue retries); anything else raised is a failed pass."""
        entry = self._entries.get(key)
        if entry is None or entry.body["metadata"].get("deletionTimestamp"):
            return Result()  # being deleted: garbage collection takes the children
        self.passes += 1
        body = entry.body
        previous: Mapping[str, Any] = body.get("status") or {}
        try:
            taskapi = TaskApi.from_body(body)
        except InvalidSpecError as e:
            generation = int(body["metadata"].get("generation", 0))
            new = invalid_spec_status(previous, generation, str(e), self._clock())
            await self._publisher.write(key, entry, previous, new, stuck=False)
            return Result()
        outcome = Outcome()
        if full and not taskapi.paused:
            outcome = await self._applier.apply(taskapi, entry)
        observed = await self._observe(taskapi, entry, outcome)
        new = compute_status(taskapi, observed, previous, self._clock(), self._policy)
        stuck = any(view.stuck for view in live_pods(observed.pods))
        requeue_after = await self._publisher.publish(key, entry, previous, new, stuck=stuck)
        if outcome.changed:
            self._logger.info(
                "Applied children taskapi=%s/%s children=%s", *key, ",".join(outcome.changed)
            )
            await self._events.record(body, "Normal", "Applied", ", ".join(outcome.changed))
        return Result(requeue_after)

    async def _observe(self, taskapi: TaskApi, entry: Entry, outcome: Outcome) -> Observed:
        ns, instance = taskapi.namespace, taskapi.name
        name = names.deployment_name(instance)
        cached = self._caches.child(_DEPLOYMENTS, ns, instance, name)
        deployment = entry.observed(_DEPLOYMENTS.plural, name, cached)
        if deployment is not None and not controlled_by(deployment, taskapi.uid):
            deployment = None  # someone else's: its state is not ours to report
        selector = names.selector_labels(instance).items()
        pods = [
            p
            for p in self._caches.children(names.PODS, ns, instance)
            if selector <= (p["metadata"].get("labels") or {}).items()
        ]
        missing_components, outbox_missing = self._components(taskapi)
        missing_secrets = await self._secrets.missing(ns, taskapi.referenced_secrets())
        pubsub, topic = taskapi.component_names.pubsub, taskapi.spec.pubsub.topic
        probes = await self._prober.probe(probe_targets(live_pods(pods)), pubsub, topic)
        if probes:
            entry.probed_at = self._clock().timestamp()
        finding = assess(pubsub, topic, probes)
        return Observed(
            deployment=deployment,
            pods=pods,
            missing_components=missing_components,
            missing_secrets=missing_secrets,
            outbox_missing=outbox_missing,
            conflicts=outcome.conflicts,
            probes=probes,
            probed=bool(probes),
            probe_streak=self._publisher.streak(entry, finding["state"]),
            finding=finding,
            apply_error=outcome.apply_error,
        )

    def _components(self, taskapi: TaskApi) -> tuple[list[str], list[str]]:
        """Referenced components that are missing, and a referenced state store that lacks
        the outbox metadata, both from the Components cache."""
        ns = taskapi.namespace
        referenced = taskapi.referenced_components()
        missing = [n for n in referenced if not self._caches.component(ns, n)]
        outbox: list[str] = []
        ref = taskapi.spec.state_store.ref
        if ref is not None and ref.name not in missing:
            found = self._caches.component(ns, ref.name) or {}
            if not set(names.OUTBOX_METADATA) <= metadata_names(found):
                outbox.append(ref.name)
        return missing, outbox
