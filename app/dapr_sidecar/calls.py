"""The bounded call to the sidecar, shared by both apps: every SDK failure becomes one of the
caller's own error types, so neither app's handlers ever see gRPC or SDK exceptions.

Each app builds one ``SidecarCalls`` with its own error classes (the Task API's are HTTP
problems, notification-service's are retry signals); the translation itself lives here once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import grpc  # type: ignore[import-untyped]
from dapr.aio.clients import DaprClient
from dapr.clients.exceptions import DaprInternalError
from dapr.clients.grpc._state import Concurrency, StateOptions

from dapr_sidecar.connection import SidecarConnection

T = TypeVar("T")
ErrorType = Callable[[str], Exception]

# Every write of both apps is first-write: with no ETag it only creates (Dapr checks no ETag
# on a missing key, dapr/dapr#2320), which Redis refuses on an existing key itself written
# first-write and PostgreSQL on any existing key; with an ETag, the ETag is checked.
FIRST_WRITE = StateOptions(concurrency=Concurrency.first_write)


def ttl_metadata(ttl_seconds: int | None) -> dict[str, str]:
    """A write's state metadata for a time to live (none: kept until deleted)."""
    return {"ttlInSeconds": str(ttl_seconds)} if ttl_seconds else {}


def grpc_code(exc: BaseException) -> object | None:
    """The gRPC status of an SDK error; save_state hides it in __cause__ (DaprInternalError)."""
    for candidate in (exc, exc.__cause__):
        code = getattr(candidate, "code", None)
        if callable(code):
            with contextlib.suppress(Exception):
                result: object = code()
                return result
    return None


def details(exc: BaseException) -> str:
    for candidate in (exc, exc.__cause__):
        found = getattr(candidate, "details", None)
        if callable(found):
            with contextlib.suppress(Exception):
                return str(found())
    return str(exc) or type(exc).__name__


class SidecarCalls:
    """Calls through the process's one client, each under a timeout.

    ``unavailable`` is raised for a timeout, an unreachable sidecar or a failing component;
    ``conflict`` for a rejected ETag (gRPC ABORTED), which callers retry after a re-read.
    """

    def __init__(
        self,
        sidecar: SidecarConnection,
        timeout_seconds: float,
        *,
        unavailable: ErrorType,
        conflict: ErrorType,
    ) -> None:
        self.sidecar = sidecar
        self.timeout_seconds = timeout_seconds
        self._unavailable = unavailable
        self._conflict = conflict

    @property
    def connected(self) -> bool:
        return self.sidecar.client is not None

    def client(self) -> DaprClient:
        if self.sidecar.client is None:
            raise self._unavailable("the Dapr sidecar has not become reachable yet")
        return self.sidecar.client

    async def call(self, what: str, make: Callable[[DaprClient], Awaitable[T]]) -> T:
        """``make(client)`` awaited within the timeout; failures translated (see class doc)."""
        client = self.client()
        try:
            async with asyncio.timeout(self.timeout_seconds):
                return await make(client)
        except TimeoutError as exc:
            raise self._unavailable(
                f"{what}: the Dapr sidecar did not answer within {self.timeout_seconds:g}s"
            ) from exc
        except (grpc.RpcError, DaprInternalError) as exc:
            code = grpc_code(exc)
            if code == grpc.StatusCode.ABORTED:
                raise self._conflict(f"{what}: {details(exc)}") from exc
            if code == grpc.StatusCode.UNAVAILABLE:
                raise self._unavailable(
                    f"{what}: the Dapr sidecar is unreachable ({details(exc)})"
                ) from exc
            # Component failures (e.g. Redis down) come back as INTERNAL and similar codes.
            name = getattr(code, "name", "UNKNOWN")
            raise self._unavailable(f"{what}: Dapr answered {name}: {details(exc)}") from exc

    async def get_bulk(
        self, store: str, keys: Sequence[str], parallelism: int
    ) -> dict[str, tuple[bytes, str]]:
        """The keys that exist, each with its data and ETag, in one bulk read (a key that
        could not be read fails the call: ``unavailable``).

        ``parallelism``: how many keys daprd reads at once on a store without a native bulk
        read (Redis); the SDK's default, 1, reads them one after another.
        """
        what = f"reading {len(keys)} keys from state store {store!r}"
        resp = await self.call(
            what, lambda c: c.get_bulk_state(store, list(keys), parallelism=parallelism)
        )
        found: dict[str, tuple[bytes, str]] = {}
        for item in resp.items:
            if item.error:
                raise self._unavailable(f"{what}: {item.key!r}: {item.error}")
            if item.etag or item.data:
                data = item.data if isinstance(item.data, bytes) else item.data.encode()
                found[item.key] = (data, item.etag)
        return found

    async def save_first_write(
        self, store: str, key: str, value: bytes | str, etag: str | None, ttl_seconds: int | None
    ) -> None:
        """One first-write save (etag None: create only; else exactly that version)."""
        await self.call(
            f"writing {key!r} to state store {store!r}",
            lambda c: c.save_state(
                store,
                key,
                value,
                etag=etag,
                options=FIRST_WRITE,
                state_metadata=ttl_metadata(ttl_seconds),
            ),
        )
