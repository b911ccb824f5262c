"""The only module of the Task API that talks to the Dapr sidecar (state, pub/sub, invoke, secrets).

``DaprIO`` is the app's StateStore (taskapi.statestore) and its notifier. Every call goes
through the shared bounded call (dapr_sidecar.calls), which turns SDK failures into the
errors of taskapi.errors, so nothing above this module sees gRPC or aiohttp types.

Invocation goes to daprd's HTTP API (the SDK's URL and token) on one kept-alive session: the
SDK's HTTP invocation opens a new connection per call (``DaprHttpClient.send_bytes``), which
was a twentieth of the app's CPU under sustained load (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import json
import logging

import aiohttp
from dapr.clients.grpc._request import TransactionalStateOperation, TransactionOperationType
from dapr.clients.http.helpers import get_api_url
from dapr.conf import settings as dapr_settings

from dapr_sidecar import CachedSecret, SidecarCalls, SidecarConnection
from dapr_sidecar.calls import ttl_metadata
from taskapi.errors import DaprUnavailableError, EtagConflictError, InvocationError
from taskapi.models import TaskEvent
from taskapi.settings import Settings
from taskapi.statestore import Announce, Versioned, Write
from taskapi.timing import CallObserver, ignore, timed

log = logging.getLogger(__name__)

JSON = "application/json"
# Invocation answers that may succeed when tried again later (the SDK's own retry list).
TRANSIENT_HTTP = frozenset({408, 429, 500, 502, 503, 504})
# Keys one bulk read asks daprd to fetch at once (a list page reads up to 100 tasks).
BULK_READ_PARALLELISM = 32
# An API key the callee rejects may have been rotated: re-read it and retry.
REJECTED_KEY_HTTP = frozenset({401, 403})

# Operation metadata the outbox reads (daprd pkg/runtime/pubsub/outbox.go): the operation
# marked as projection is not stored; its value becomes the published event of the write
# with the same key, with this content type (a CloudEvent whose `data` is the JSON object).
PROJECTION = {"outbox.projection": "true", "contentType": JSON}


def operations(writes: list[Write], announce: Announce) -> list[TransactionalStateOperation]:
    """The transaction as daprd's outbox needs it: the projection directly BEFORE its write.

    daprd 1.17 removes projections from the list while iterating over it, which leaves
    this order intact; and on a store without the outbox metadata daprd writes a projection
    as a plain value, which the real write after it then replaces.
    """
    ops: list[TransactionalStateOperation] = []
    for w in writes:
        if w.key == announce.key:
            ops.append(TransactionalStateOperation(w.key, announce.event, metadata=PROJECTION))
        ops.append(
            TransactionalStateOperation(
                w.key,
                w.value,
                etag=w.version,
                operation_type=TransactionOperationType.upsert,
                metadata=ttl_metadata(w.ttl_seconds) or None,
            )
        )
    return ops


class DaprIO:
    """Typed, bounded calls to the sidecar; one instance per process, built in the lifespan."""

    def __init__(self, settings: Settings, observe: CallObserver = ignore) -> None:
        self._settings = settings
        self.observe = observe  # told about every public call (the metrics seam)
        self.sidecar = SidecarConnection(settings.sidecar_wait_seconds)
        self._calls = SidecarCalls(
            self.sidecar,
            settings.dapr_call_timeout_seconds,
            unavailable=DaprUnavailableError,
            conflict=EtagConflictError,
        )
        self._http: aiohttp.ClientSession | None = None  # made on first use, in the loop
        # what every invocation sends but the API key (fixed for the process: the SDK reads its
        # settings, DAPR_HTTP_PORT and DAPR_API_TOKEN among them, from the environment)
        n = settings.notification_app_id, settings.notification_method
        self._notify_url = f"{get_api_url()}/invoke/{n[0]}/method/{n[1]}"
        self._notify_headers = {"Content-Type": JSON}
        if dapr_settings.DAPR_API_TOKEN:
            self._notify_headers["dapr-api-token"] = dapr_settings.DAPR_API_TOKEN
        self._api_key = CachedSecret(
            self._calls,
            settings.secret_store,
            settings.notification_secret,
            settings.notification_secret_key,
            ttl_seconds=None,
            missing=DaprUnavailableError,
        )

    @property
    def connected(self) -> bool:
        return self._calls.connected

    async def close(self) -> None:
        """The invocation session's connections (the Dapr client closes with the sidecar
        connection)."""
        if self._http is not None:
            await self._http.close()

    # -- state (taskapi.statestore.StateStore) -------------------------------------------

    @timed
    async def get(self, key: str) -> Versioned | None:
        store = self._settings.state_store
        resp = await self._calls.call(
            f"reading {key!r} from state store {store!r}", lambda c: c.get_state(store, key)
        )
        # A missing key is not an error in Dapr: empty data and empty ETag.
        if not resp.etag and not resp.data:
            return None
        return Versioned(data=resp.data, version=resp.etag)

    @timed
    async def get_many(self, keys: list[str]) -> dict[str, Versioned]:
        if not keys:
            return {}
        # A list page reads up to ~28 keys: in parallel on Redis (PostgreSQL v2 reads them
        # in one query either way).
        parallelism = min(len(keys), BULK_READ_PARALLELISM)
        found = await self._calls.get_bulk(self._settings.state_store, keys, parallelism)
        return {k: Versioned(data=data, version=etag) for k, (data, etag) in found.items()}

    @timed
    async def put(
        self, key: str, value: bytes, version: str | None, ttl_seconds: int | None = None
    ) -> None:
        store = self._settings.state_store
        await self._calls.save_first_write(store, key, value, version, ttl_seconds)

    @timed
    async def delete(self, key: str, version: str | None) -> None:
        store = self._settings.state_store
        await self._calls.call(
            f"deleting {key!r} from state store {store!r}",
            lambda c: c.delete_state(store, key, etag=version),
        )

    @timed
    async def transact(self, writes: list[Write], announce: Announce) -> None:
        """Commit ``writes`` as one state transaction, ``announce`` riding the outbox.

        Inside a transaction every failure comes back as INTERNAL, a stale ETag included.
        Re-reading the checked keys tells them apart: one whose ETag moved means another
        writer won (EtagConflictError, retry); otherwise the store itself failed (503).
        """
        store = self._settings.state_store
        what = f"transaction on {', '.join(w.key for w in writes)} in state store {store!r}"
        ops = operations(writes, announce)
        try:
            await self._calls.call(what, lambda c: c.execute_state_transaction(store, ops))
        except DaprUnavailableError:
            checked = {w.key: w.version for w in writes if w.version is not None}
            if not checked or not self.connected:
                raise
            now = await self.get_many(list(checked))
            moved = [k for k, v in checked.items() if k not in now or now[k].version != v]
            if moved:
                raise EtagConflictError(f"{', '.join(moved)} changed meanwhile") from None
            raise

    # -- secrets and invocation ----------------------------------------------------------

    @timed
    async def notification_api_key(self) -> str:
        """The notification-service API key, from the Dapr secret store only (cached; a
        rejected key is forgotten, so the next call reads it again)."""
        return await self._api_key.get()

    @timed
    async def notify(self, event: TaskEvent) -> None:
        """POST the event to notification-service `notify` through Dapr invocation."""
        self._calls.client()  # raises while the sidecar has not become reachable
        s = self._settings
        target = f"{s.notification_app_id}/{s.notification_method}"
        api_key = await self.notification_api_key()
        headers = {**self._notify_headers, s.api_key_header: api_key}
        if self._http is None:
            self._http = aiohttp.ClientSession()
        payload = event.model_dump_json()
        try:
            async with asyncio.timeout(s.dapr_call_timeout_seconds):
                async with self._http.post(self._notify_url, data=payload, headers=headers) as r:
                    status, body = r.status, await r.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise InvocationError(f"invoking {target}: {exc!r}", transient=True) from exc
        if 200 <= status < 300:
            return
        if status in REJECTED_KEY_HTTP:
            self._api_key.forget()
        transient = status in TRANSIENT_HTTP or status in REJECTED_KEY_HTTP
        raise InvocationError(
            f"invoking {target}: HTTP {status}: {_said(body)}", transient=transient, status=status
        )

    # -- health --------------------------------------------------------------------------

    @timed
    async def missing_components(self) -> list[str]:
        """Components this app needs that the sidecar has not loaded (raises if unreachable)."""
        meta = await self._calls.call("reading sidecar metadata", lambda c: c.get_metadata())
        loaded = {c.name for c in meta.registered_components}
        s = self._settings
        return [n for n in (s.state_store, s.pubsub) if n not in loaded]


def _said(body: bytes) -> str:
    """What an error answer says: daprd's ``message``, a problem's ``detail``, or its text."""
    try:
        found = json.loads(body)
    except ValueError:
        found = None
    said = (found.get("message") or found.get("detail")) if isinstance(found, dict) else None
    return said if isinstance(said, str) else body.decode(errors="replace")[:200] or "(no body)"
