"""A fake Kubernetes API for unit tests of the reconciler (as controller-runtime projects test
with a fake client): objects in a dict, opaque resourceVersions, watch caches that catch up
only when told (``sync``), and failures injected per verb and resource."""

from __future__ import annotations

import copy
import itertools
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from operator_fixtures import POLICY

from taskapi_operator import cache, names
from taskapi_operator.apply import Applier
from taskapi_operator.cache import Caches
from taskapi_operator.entries import Entries
from taskapi_operator.events import EventRecorder
from taskapi_operator.kube import KubeError, kube_error
from taskapi_operator.names import Kind
from taskapi_operator.publish import StatusPublisher
from taskapi_operator.reconcile import Reconciler
from taskapi_operator.secret_checks import SecretChecks
from taskapi_operator.status import PodProbe
from taskapi_operator.status.patch import merge_patch
from taskapi_operator.triggers import SpecChanges

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
LOG = logging.getLogger("test.reconciler")
Ref = tuple[str, str, str]  # (plural, namespace, name)


def apply_merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = apply_merge(out.get(key), value)
    return out


class FakeKube:
    """kube.Kube's calls the reconciler makes, on a dict of objects."""

    def __init__(self) -> None:
        self.objects: dict[Ref, dict[str, Any]] = {}
        self.calls: list[tuple[str, str, str]] = []  # (verb, plural, name)
        self.events: list[tuple[str, str, str]] = []  # (type, reason, message)
        self.fail: dict[tuple[str, str], KubeError] = {}  # (verb, plural) -> raised
        self.secrets = {("shop", "notification-api-key"), ("shop", "redis")}  # the sample's
        self._versions = (f"v{n:x}z" for n in itertools.count(7))  # opaque: not integers

    def _check(self, verb: str, plural: str, name: str) -> None:
        self.calls.append((verb, plural, name))
        error = self.fail.get((verb, plural))
        if error is not None:
            raise error

    def writes(self) -> list[tuple[str, str, str]]:
        return [c for c in self.calls if c[0] != "GET"]

    def put(self, plural: str, body: dict[str, Any]) -> dict[str, Any]:
        meta = body["metadata"]
        old = self.objects.get((plural, meta["namespace"], meta["name"]))
        meta.setdefault("uid", (old or {}).get("metadata", {}).get("uid") or f"uid-{meta['name']}")
        meta["resourceVersion"] = next(self._versions)
        self.objects[(plural, meta["namespace"], meta["name"])] = body
        return copy.deepcopy(body)

    async def get(self, kind: Kind, namespace: str, name: str) -> dict[str, Any] | None:
        self._check("GET", kind.plural, name)
        found = self.objects.get((kind.plural, namespace, name))
        return copy.deepcopy(found) if found is not None else None

    async def apply(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        kind = names.kind_of(manifest["apiVersion"], manifest["kind"])
        self._check("PATCH", kind.plural, manifest["metadata"]["name"])
        return self.put(kind.plural, copy.deepcopy(dict(manifest)))

    async def delete(self, kind: Kind, namespace: str, name: str, uid: str) -> None:
        self._check("DELETE", kind.plural, name)
        found = self.objects.get((kind.plural, namespace, name))
        if found is not None and found["metadata"]["uid"] == uid:
            del self.objects[(kind.plural, namespace, name)]

    async def patch_status(
        self, namespace: str, name: str, patch: Mapping[str, Any]
    ) -> dict[str, Any]:
        self._check("PATCH", "taskapis/status", name)
        body = self.objects[(names.PLURAL, namespace, name)]
        body["status"] = apply_merge(body.get("status") or {}, patch)
        return self.put(names.PLURAL, body)

    async def secret_exists(self, namespace: str, name: str) -> bool:
        self._check("GET", "secrets", name)
        return (namespace, name) in self.secrets

    async def post_event(
        self, involved: Mapping[str, Any], kind: str, reason: str, message: str, now: str
    ) -> None:
        self._check("POST", "events", involved["metadata"]["name"])
        self.events.append((kind, reason, message))


class FakeProber:
    def __init__(self) -> None:
        self.registered = True
        self.error: str | None = None

    async def probe(self, pods: Any, pubsub: str, topic: str) -> list[PodProbe]:
        return [PodProbe(name, self.registered and not self.error, self.error) for name, _ in pods]


class World:
    """One reconciler over a FakeKube, its caches and entries, with a hand-turned clock."""

    def __init__(
        self,
        *,
        hold_seconds: float = 5.0,
        confirm_seconds: float = 5.0,
        progress_seconds: float = 2.0,
    ) -> None:
        self.kube = FakeKube()
        self.indices: dict[str, dict[Any, list[dict[str, Any]]]] = {}
        self.caches = Caches(self.indices)
        self.entries = Entries(lambda: 0.0)
        self.prober = FakeProber()
        self.monotonic = 1000.0
        self.recorder = EventRecorder(
            self.kube.post_event, 600, LOG, lambda: T0, clock=lambda: self.monotonic
        )
        self.publisher = StatusPublisher(
            self.kube.patch_status,
            self.recorder,
            LOG,
            hold_seconds=hold_seconds,
            confirm_seconds=confirm_seconds,
            progress_seconds=progress_seconds,
            clock=lambda: self.monotonic,
        )
        self.spec_changes = SpecChanges()
        self.reconciler = Reconciler(
            entries=self.entries,
            caches=self.caches,
            applier=Applier(self.kube, self.caches, self.spec_changes),
            prober=self.prober,
            secrets=SecretChecks(self.kube.secret_exists, 60, clock=lambda: self.monotonic),
            publisher=self.publisher,
            events=self.recorder,
            policy=POLICY,
            logger=LOG,
            clock=lambda: T0,
        )

    def add(self, body: dict[str, Any]) -> tuple[str, str]:
        """A TaskApi created through the API and delivered by its watch."""
        stored = self.kube.put(names.PLURAL, copy.deepcopy(body))
        key, _ = self.entries.remember(stored)
        return key

    def deliver(self, key: tuple[str, str]) -> bool:
        """The TaskApi watch delivers the stored object; True if it needs a full pass."""
        return self.entries.remember(copy.deepcopy(self.kube.objects[(names.PLURAL, *key)]))[1]

    def sync(self) -> None:
        """The watch caches catch up with every object the fake API holds."""
        self.indices.clear()
        for kind in (*names.CHILD_KINDS, names.PODS):
            index = self.indices.setdefault(cache.index_id(kind), {})
            for (plural, _, _), body in self.kube.objects.items():
                keyed = cache.by_instance(body) if plural == kind.plural else None
                for key, value in (keyed or {}).items():
                    index.setdefault(key, []).append(value)
        for kind, pick in cache.BY_NAME.items():
            named = self.indices.setdefault(cache.named_index_id(kind), {})
            for (plural, _, _), body in self.kube.objects.items():
                if plural == kind.plural:
                    for key, value in pick(body).items():
                        named.setdefault(key, []).append(value)

    def taskapi(self, key: tuple[str, str]) -> dict[str, Any]:
        return self.kube.objects[(names.PLURAL, *key)]

    def condition(self, key: tuple[str, str], kind: str) -> dict[str, Any]:
        conditions = self.taskapi(key)["status"]["conditions"]
        found: dict[str, Any] = next(c for c in conditions if c["type"] == kind)
        return found


def failing(status: int, message: str = "injected") -> KubeError:
    return kube_error(status, message)


__all__ = ["T0", "FakeKube", "World", "failing", "merge_patch"]
