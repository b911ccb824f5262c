"""The operator's only Kubernetes I/O: apply, delete and read children, patch status, post
Events, read and write the leader-election Lease.

Requests go over apiclient.ApiClient (one aiohttp session logged in with kopf's public login
helpers); URLs are kopf.Resource's. Every failure becomes a KubeError, classified once, here:
one worth retrying is also an errors.TransientError, which the work queue retries quietly;
any other is a lasting answer (invalid, forbidden, not found) for the caller to act on.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import kopf

from taskapi_operator import names
from taskapi_operator.apiclient import ApiClient, ApiError
from taskapi_operator.errors import TransientError
from taskapi_operator.leadership import LeaseConflictError
from taskapi_operator.names import Kind
from taskapi_operator.ratelimit import TokenBucket

# HTTP statuses that say "try again" rather than "your request is wrong".
_TRANSIENT_STATUSES = frozenset({408, 409, 429})
_JSON = "application/json"


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


class TransientKubeError(KubeError, TransientError):
    """A KubeError that passes by itself (or with its namespace): retried, never reported."""

    @property
    def terminating(self) -> bool:
        return self.namespace_terminating


def kube_error(status: int, message: str) -> KubeError:
    """The one classification of a failed call."""
    error = KubeError(status, message)
    if error.transient or error.namespace_terminating:
        return TransientKubeError(status, message)
    return error


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


@functools.cache
def _resource(kind: Kind) -> kopf.Resource:
    return kopf.Resource(kind.group, kind.version, kind.plural, kind=kind.kind, namespaced=True)


def url(
    kind: Kind,
    namespace: str,
    name: str | None = None,
    *,
    subresource: str | None = None,
    params: dict[str, str] | None = None,
) -> str:
    where: Any = namespace  # kopf types it as its NamespaceName (a NewType of str)
    return _resource(kind).get_url(
        namespace=where, name=name, subresource=subresource, params=params
    )


# Called after every request with (verb, kind plural, HTTP status or 0): the metrics hook.
RequestObserver = Callable[[str, str, int], None]


def _ignore(_verb: str, _plural: str, _status: int) -> None:
    return None


class Kube:
    """One field manager for every write; every request passes through ``_request``, and
    every reconcile request through the rate limit (``limiter``). Events have a bucket of
    their own (``event_limiter``), as client-go's event recorder has its own client and
    limiter: a courtesy to the user must not hold back the writes a pass is for."""

    def __init__(
        self,
        client: ApiClient,
        field_manager: str,
        *,
        limiter: TokenBucket,
        event_limiter: TokenBucket,
        observer: RequestObserver = _ignore,
    ) -> None:
        self._client = client
        self._field_manager = field_manager
        self._limiters = {"reconcile": limiter, "events": event_limiter}
        self._observer = observer
        self.counters = Counters()

    @property
    def throttled_seconds(self) -> float:
        """Seconds requests have waited for either bucket (a metric)."""
        return sum(limiter.waited_seconds for limiter in self._limiters.values())

    async def _request(
        self,
        method: str,
        kind: Kind,
        path: str,
        *,
        body: Any = None,
        content_type: str = _JSON,
        count: bool = True,
    ) -> Any:
        # The Lease's renewals are election traffic, not reconcile I/O: neither counted nor
        # rate limited (a backlog of reconcile requests must not cost the leadership).
        if count:
            self.counters.by_verb[method] = self.counters.by_verb.get(method, 0) + 1
            await self._limiters["events" if kind == names.EVENTS else "reconcile"].wait()
        headers = {"Accept": _JSON, "Content-Type": content_type}
        status = 0
        try:
            status, answer = await self._client.request(method, path, body=body, headers=headers)
        except ApiError as e:
            status = e.status
            raise kube_error(e.status, e.message or f"{method} {path}") from e
        finally:
            self._observer(method, kind.plural, status)
        return answer

    async def get(
        self, kind: Kind, namespace: str, name: str, *, count: bool = True
    ) -> dict[str, Any] | None:
        """The object, or None when there is none (404)."""
        try:
            found: dict[str, Any] = await self._request(
                "GET", kind, url(kind, namespace, name), count=count
            )
        except KubeError as e:
            if e.status == 404:
                return None
            raise
        return found

    async def apply(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """Server-side apply (create or update) of a manifest this field manager owns."""
        kind = names.kind_of(manifest["apiVersion"], manifest["kind"])
        meta = manifest["metadata"]
        params = {"fieldManager": self._field_manager, "force": "true"}
        applied: dict[str, Any] = await self._request(
            "PATCH",
            kind,
            url(kind, meta["namespace"], meta["name"], params=params),
            body=dict(manifest),
            content_type="application/apply-patch+yaml",
        )
        return applied

    async def delete(self, kind: Kind, namespace: str, name: str, uid: str) -> None:
        """Delete exactly the object seen (uid precondition): never a same-named newcomer."""
        options = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "preconditions": {"uid": uid},
            "propagationPolicy": "Background",
        }
        try:
            await self._request("DELETE", kind, url(kind, namespace, name), body=options)
        except KubeError as e:
            if e.status != 404:
                raise

    async def patch_status(
        self, namespace: str, name: str, patch: Mapping[str, Any]
    ) -> dict[str, Any]:
        updated: dict[str, Any] = await self._request(
            "PATCH",
            names.TASKAPIS,
            url(names.TASKAPIS, namespace, name, subresource="status"),
            body={"status": dict(patch)},
            content_type="application/merge-patch+json",
        )
        return updated

    async def secret_exists(self, namespace: str, name: str) -> bool:
        """Raises KubeError 403 where the operator may not read Secrets (the default)."""
        return await self.get(names.SECRETS, namespace, name) is not None

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
        events = names.EVENTS
        await self._request("POST", events, url(events, meta["namespace"]), body=event)

    # -- the leader-election Lease (leadership.LeaseApi) --------------------------------------

    async def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self.get(names.LEASES, namespace, name, count=False)

    async def create_lease(self, lease: Mapping[str, Any]) -> dict[str, Any]:
        return await self._lease_write(
            "POST", url(names.LEASES, lease["metadata"]["namespace"]), lease
        )

    async def replace_lease(self, lease: Mapping[str, Any]) -> dict[str, Any]:
        meta = lease["metadata"]
        return await self._lease_write(
            "PUT", url(names.LEASES, meta["namespace"], meta["name"]), lease
        )

    async def _lease_write(
        self, method: str, path: str, lease: Mapping[str, Any]
    ) -> dict[str, Any]:
        try:
            written: dict[str, Any] = await self._request(
                method, names.LEASES, path, body=dict(lease), count=False
            )
        except KubeError as e:
            if e.status == 409:
                raise LeaseConflictError(e.message) from e
            raise
        return written

    async def close(self) -> None:
        await self._client.close()
