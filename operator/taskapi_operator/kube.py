"""The operator's only Kubernetes I/O: apply, delete and read children, patch status, post Events.

Requests go through kopf's own API machinery (``kopf._cogs.clients.api.request``): the same
aiohttp session, credentials vault (re-login on 401) and timeouts as kopf's watches, async end
to end. That replaced a blocking ``kubernetes`` client driven through a thread pool, and is
less code than a second client (lightkube, kr8s) with a second login. The module is internal
to kopf, so pyproject pins kopf below 1.46; this is the one file that touches it.
kopf's own retries are switched off (``backoffs=()``): the Reconciler decides what is
transient and when to retry, and a 403 (which kopf would retry) is an answer here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
import kopf
from kopf._cogs.clients import api as kopf_api
from kopf._cogs.clients import errors as kopf_errors

from taskapi_operator import names
from taskapi_operator.leadership import LeaseConflictError
from taskapi_operator.names import ChildKind

# HTTP statuses that say "try again" rather than "your request is wrong".
_TRANSIENT_STATUSES = frozenset({408, 409, 429})
# kopf logs every failed attempt at ERROR level ("escalating"); the Reconciler reports
# failures itself (a 403 on a Secret check is an answer, not an error), so kopf's copy is muted.
_QUIET = logging.getLogger("taskapi_operator.kube.kopf")
_QUIET.propagate = False
_QUIET.setLevel(logging.CRITICAL)
TASKAPIS = ChildKind(names.GROUP, names.VERSION, names.KIND, names.PLURAL)
SECRETS = ChildKind("", "v1", "Secret", "secrets")
EVENTS = ChildKind("", "v1", "Event", "events")
LEASES = ChildKind("coordination.k8s.io", "v1", "Lease", "leases")  # leader election


class KubeError(Exception):
    """A failed API call, carrying the apiserver's own message (it is usually actionable).

    ``status`` 0 means no HTTP answer at all (timeout, connection refused or reset).
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}" if status else message)
        self.status = status
        self.message = message

    @property
    def transient(self) -> bool:
        """Conflicts, throttling, server errors and no answer: retry, do not report."""
        return self.status == 0 or self.status in _TRANSIENT_STATUSES or self.status >= 500

    @property
    def namespace_terminating(self) -> bool:
        return self.status == 403 and "being terminated" in self.message


@dataclass
class Counters:
    """Requests issued, by verb: tests and the liveness probe show a steady state writes
    nothing."""

    by_verb: dict[str, int] = field(default_factory=dict)

    @property
    def reads(self) -> int:
        return self.by_verb.get("GET", 0)

    @property
    def writes(self) -> int:
        return sum(n for verb, n in self.by_verb.items() if verb != "GET")


def resource_path(
    kind: ChildKind, namespace: str, name: str | None = None, subresource: str | None = None
) -> str:
    prefix = f"/apis/{kind.api_version}" if kind.group else f"/api/{kind.version}"
    path = f"{prefix}/namespaces/{namespace}/{kind.plural}"
    if name:
        path += f"/{name}"
    if subresource:
        path += f"/{subresource}"
    return path


# Called after every request with (verb, kind plural, HTTP status or 0): the metrics hook.
RequestObserver = Callable[[str, str, int], None]


class Kube:
    """One field manager for every write; every request passes through ``_request``."""

    def __init__(
        self,
        settings: kopf.OperatorSettings,
        field_manager: str,
        observer: RequestObserver | None = None,
    ) -> None:
        self._settings = settings
        self._field_manager = field_manager
        self._observer = observer
        self.counters = Counters()

    async def _request(
        self,
        method: str,
        kind: ChildKind,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str | None = None,
        count: bool = True,
    ) -> Any:
        if count:  # the Lease's renewals are election traffic, not reconcile I/O (OP-HA)
            self.counters.by_verb[method] = self.counters.by_verb.get(method, 0) + 1
        url = f"{path}?{urlencode(dict(query))}" if query else path
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        status = 0
        try:
            response = await kopf_api.request(
                method,
                url,
                payload=body,
                headers=headers,
                settings=self._settings,
                backoffs=(),
                logger=_QUIET,
            )
            async with response:
                status = response.status
                return await response.json() if response.content_length != 0 else None
        except kopf_errors.APIError as e:
            status = e.status
            raise KubeError(e.status, e.message or str(e) or f"{method} {path}") from e
        except (aiohttp.ClientError, TimeoutError) as e:
            raise KubeError(0, f"{method} {path}: {type(e).__name__}: {e}".rstrip(": ")) from e
        finally:
            if self._observer is not None:
                self._observer(method, kind.plural, status)

    async def get(self, kind: ChildKind, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = await self._request(
                "GET", kind, resource_path(kind, namespace, name)
            )
        except KubeError as e:
            if e.status == 404:
                return None
            raise
        return found

    async def apply(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """Server-side apply (create or update) of a manifest this field manager owns."""
        kind = names.child_kind(manifest["apiVersion"], manifest["kind"])
        meta = manifest["metadata"]
        applied: dict[str, Any] = await self._request(
            "PATCH",
            kind,
            resource_path(kind, meta["namespace"], meta["name"]),
            query={"fieldManager": self._field_manager, "force": "true"},
            body=dict(manifest),
            content_type="application/apply-patch+yaml",
        )
        return applied

    async def delete(self, kind: ChildKind, namespace: str, name: str, uid: str) -> None:
        """Delete exactly the object seen (uid precondition): never a same-named newcomer."""
        options = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "preconditions": {"uid": uid},
            "propagationPolicy": "Background",
        }
        try:
            await self._request("DELETE", kind, resource_path(kind, namespace, name), body=options)
        except KubeError as e:
            if e.status != 404:
                raise

    async def patch_status(
        self, namespace: str, name: str, patch: Mapping[str, Any]
    ) -> dict[str, Any]:
        updated: dict[str, Any] = await self._request(
            "PATCH",
            TASKAPIS,
            resource_path(TASKAPIS, namespace, name, "status"),
            body={"status": dict(patch)},
            content_type="application/merge-patch+json",
        )
        return updated

    async def secret_exists(self, namespace: str, name: str) -> bool:
        """Raises KubeError 403 where the operator may not read Secrets (the default)."""
        return await self.get(SECRETS, namespace, name) is not None

    async def post_event(
        self, involved: Mapping[str, Any], kind: str, reason: str, message: str, now: str
    ) -> None:
        """A core/v1 Event about ``involved`` (shown by kubectl describe and get events)."""
        meta = involved["metadata"]
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": involved.get("apiVersion", names.API_VERSION),
                "kind": involved.get("kind", names.KIND),
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta.get("uid"),
            },
            "type": kind,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": self._field_manager},
            "reportingComponent": self._field_manager,
            "reportingInstance": self._field_manager,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        await self._request("POST", EVENTS, resource_path(EVENTS, meta["namespace"]), body=event)

    # -- the leader-election Lease (leadership.LeaseApi; OP-HA) -------------------------------

    async def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = await self._request(
                "GET", LEASES, resource_path(LEASES, namespace, name), count=False
            )
        except KubeError as e:
            if e.status == 404:
                return None
            raise
        return found

    async def create_lease(self, lease: Mapping[str, Any]) -> dict[str, Any]:
        path = resource_path(LEASES, lease["metadata"]["namespace"])
        return await self._lease_write("POST", path, lease)

    async def replace_lease(self, lease: Mapping[str, Any]) -> dict[str, Any]:
        meta = lease["metadata"]
        return await self._lease_write(
            "PUT", resource_path(LEASES, meta["namespace"], meta["name"]), lease
        )

    async def _lease_write(
        self, method: str, path: str, lease: Mapping[str, Any]
    ) -> dict[str, Any]:
        try:
            written: dict[str, Any] = await self._request(
                method, LEASES, path, body=dict(lease), count=False
            )
        except KubeError as e:
            if e.status == 409:
                raise LeaseConflictError(e.message) from e
            raise
        return written
