"""The only module of the Task API that talks to the Dapr sidecar (state, pub/sub, invoke, secrets).

It makes every call through the process's single async DaprClient (dapr_sidecar) and
translates every SDK failure into the errors of taskapi.errors, so routes never see gRPC or
aiohttp types.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

import aiohttp  # only for the exception types of the SDK's HTTP invocation transport
import grpc  # type: ignore[import-untyped]
from dapr.aio.clients import DaprClient
from dapr.clients.exceptions import DaprHttpError, DaprInternalError
from dapr.clients.grpc._request import TransactionalStateOperation, TransactionOperationType
from dapr.clients.grpc._state import Concurrency, StateOptions

from dapr_sidecar import SidecarConnection
from taskapi.errors import DaprUnavailableError, EtagConflictError, InvocationError
from taskapi.models import TaskEvent
from taskapi.settings import Settings
from taskapi.timing import CallObserver, ignore, timed

log = logging.getLogger(__name__)

T = TypeVar("T")

JSON = "application/json"
TTL_METADATA = "ttlInSeconds"
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
# Metadata of the state store Component without which the outbox publishes nothing.
OUTBOX_METADATA = ("outboxPublishPubsub", "outboxPublishTopic")


@dataclass(frozen=True)
class Stored:
    data: bytes
    etag: str


@dataclass(frozen=True)
class Write:
    """One operation of a state transaction: value None deletes the key."""

    key: str
    value: bytes | None
    # The store ETag the key must still have; None writes unconditionally.
    etag: str | None = None
    ttl_seconds: int | None = None
    projection: bool = False

    def operation(self) -> TransactionalStateOperation:
        metadata = dict(PROJECTION) if self.projection else {}
        if self.ttl_seconds:
            metadata[TTL_METADATA] = str(self.ttl_seconds)
        kind = (
            TransactionOperationType.delete
            if self.value is None
            else TransactionOperationType.upsert
        )
        return TransactionalStateOperation(
            self.key, self.value, etag=self.etag, operation_type=kind, metadata=metadata or None
        )


def _grpc_code(exc: BaseException) -> object | None:
    """The gRPC status of an SDK error; save_state hides it in __cause__ (DaprInternalError)."""
    for candidate in (exc, exc.__cause__):
        code = getattr(candidate, "code", None)
        if callable(code):
            with contextlib.suppress(Exception):
                result: object = code()
                return result
    return None


def _details(exc: BaseException) -> str:
    for candidate in (exc, exc.__cause__):
        details = getattr(candidate, "details", None)
        if callable(details):
            with contextlib.suppress(Exception):
                return str(details())
    return str(exc) or type(exc).__name__


class DaprIO:
    """Typed, bounded calls to the sidecar; one instance per process, built in the lifespan."""

    def __init__(self, settings: Settings, observe: CallObserver = ignore) -> None:
        self._settings = settings
        self.observe = observe  # told about every public call (the metrics seam)
        self.sidecar = SidecarConnection(settings.sidecar_wait_seconds)
        self._api_key: str | None = None

    @property
    def connected(self) -> bool:
        return self.sidecar.client is not None

    def _require(self) -> DaprClient:
        if self.sidecar.client is None:
            raise DaprUnavailableError("the Dapr sidecar has not become reachable yet")
        return self.sidecar.client

    async def _bounded(self, what: str, call: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(self._settings.dapr_call_timeout_seconds):
                return await call
        except TimeoutError as exc:
            raise DaprUnavailableError(
                f"{what}: the Dapr sidecar did not answer within "
                f"{self._settings.dapr_call_timeout_seconds:g}s"
            ) from exc
        except (grpc.RpcError, DaprInternalError) as exc:
            code = _grpc_code(exc)
            if code == grpc.StatusCode.ABORTED:
                raise EtagConflictError(f"{what}: {_details(exc)}") from exc
            if code == grpc.StatusCode.UNAVAILABLE:
                raise DaprUnavailableError(
                    f"{what}: the Dapr sidecar is unreachable ({_details(exc)})"
                ) from exc
            # Component failures (e.g. Redis down) come back as INTERNAL and similar codes.
            name = getattr(code, "name", "UNKNOWN")
            raise DaprUnavailableError(f"{what}: Dapr answered {name}: {_details(exc)}") from exc

    # -- state ---------------------------------------------------------------------------

    @timed
    async def get(self, key: str) -> Stored | None:
        client = self._require()
        store = self._settings.state_store
        resp = await self._bounded(
            f"reading {key!r} from state store {store!r}", client.get_state(store, key)
        )
        # A missing key is not an error in Dapr: empty data and empty ETag.
        if not resp.etag and not resp.data:
            return None
        return Stored(data=resp.data, etag=resp.etag)

    @timed
    async def get_many(self, keys: list[str]) -> dict[str, Stored]:
        if not keys:
            return {}
        client = self._require()
        store = self._settings.state_store
        # The SDK's default parallelism is 1: on a store without a native bulk read (Redis)
        # daprd then reads the keys one after another, which made a list page cost ~28
        # sequential Redis round trips. PostgreSQL v2 reads them in one query either way.
        parallelism = min(len(keys), BULK_READ_PARALLELISM)
        resp = await self._bounded(
            f"reading {len(keys)} keys from state store {store!r}",
            client.get_bulk_state(store, keys, parallelism=parallelism),
        )
        found: dict[str, Stored] = {}
        for item in resp.items:
            if item.error:
                raise DaprUnavailableError(f"reading {item.key!r} from {store!r}: {item.error}")
            if item.etag or item.data:
                data = item.data if isinstance(item.data, bytes) else item.data.encode()
                found[item.key] = Stored(data=data, etag=item.etag)
        return found

    @timed
    async def put(
        self,
        key: str,
        value: str,
        etag: str | None,
        ttl_seconds: int | None = None,
        *,
        first_write: bool = True,
    ) -> None:
        """Write `key` outside a transaction; with etag=None and first_write it only creates.

        Dapr skips the ETag check for a missing key, so "create" uses first-write
        concurrency without an ETag, which the Redis store refuses on an existing key that
        was itself written first-write, and PostgreSQL refuses on any existing key.
        """
        client = self._require()
        store = self._settings.state_store
        concurrency = Concurrency.first_write if first_write else Concurrency.last_write
        options = StateOptions(concurrency=concurrency)
        metadata = {TTL_METADATA: str(ttl_seconds)} if ttl_seconds else {}
        await self._bounded(
            f"writing {key!r} to state store {store!r}",
            client.save_state(
                store, key, value, etag=etag, options=options, state_metadata=metadata
            ),
        )

    @timed
    async def delete(self, key: str, etag: str | None) -> None:
        client = self._require()
        store = self._settings.state_store
        await self._bounded(
            f"deleting {key!r} from state store {store!r}",
            client.delete_state(store, key, etag=etag),
        )

    @timed
    async def transact(self, writes: list[Write]) -> None:
        """Commit `writes` as one state transaction (with the outbox: their event too).

        Inside a transaction every failure comes back as INTERNAL, a stale ETag included.
        Re-reading the checked keys tells them apart: one whose ETag moved means another
        writer won (EtagConflictError, retry); otherwise the store itself failed (503).
        """
        client = self._require()
        store = self._settings.state_store
        what = f"transaction on {', '.join(w.key for w in writes if not w.projection)}"
        try:
            await self._bounded(
                f"{what} in state store {store!r}",
                client.execute_state_transaction(store, [w.operation() for w in writes]),
            )
        except DaprUnavailableError:
            checked = {w.key: w.etag for w in writes if w.etag is not None and not w.projection}
            if not checked or not self.connected:
                raise
            now = await self.get_many(list(checked))
            moved = [k for k, etag in checked.items() if k not in now or now[k].etag != etag]
            if moved:
                raise EtagConflictError(f"{', '.join(moved)} changed meanwhile") from None
            raise

    # -- secrets and invocation ----------------------------------------------------------

    @timed
    async def notification_api_key(self) -> str:
        """The notification-service API key, from the Dapr secret store only (cached; a
        rejected key is forgotten, so the next call reads it again)."""
        if self._api_key is not None:
            return self._api_key
        client = self._require()
        s = self._settings
        where = f"secret {s.notification_secret!r} in secret store {s.secret_store!r}"
        resp = await self._bounded(
            f"reading {where}", client.get_secret(s.secret_store, s.notification_secret)
        )
        value = resp.secret.get(s.notification_secret_key)
        if not value:
            raise DaprUnavailableError(f"{where} has no key {s.notification_secret_key!r}")
        self._api_key = value
        return value

    @timed
    async def notify(self, event: TaskEvent) -> None:
        """POST the event to notification-service `notify` through Dapr invocation."""
        client = self._require()
        s = self._settings
        target = f"{s.notification_app_id}/{s.notification_method}"
        api_key = await self.notification_api_key()
        try:
            async with asyncio.timeout(s.dapr_call_timeout_seconds):
                await client.invoke_method(
                    s.notification_app_id,
                    s.notification_method,
                    data=event.model_dump_json(),
                    content_type=JSON,
                    metadata=((s.api_key_header, api_key),),
                    http_verb="POST",
                )
        except DaprHttpError as exc:
            status = exc.status_code
            if status in REJECTED_KEY_HTTP:
                self._api_key = None
            transient = status in TRANSIENT_HTTP or status in REJECTED_KEY_HTTP
            raise InvocationError(
                f"invoking {target}: HTTP {status}: {exc.message}",
                transient=transient,
                status=status,
            ) from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise InvocationError(f"invoking {target}: {exc!r}", transient=True) from exc

    # -- health --------------------------------------------------------------------------

    @timed
    async def missing_components(self) -> list[str]:
        """Components this app needs that the sidecar has not loaded (raises if unreachable)."""
        client = self._require()
        meta = await self._bounded("reading sidecar metadata", client.get_metadata())
        loaded = {c.name for c in meta.registered_components}
        s = self._settings
        return [n for n in (s.state_store, s.pubsub) if n not in loaded]
