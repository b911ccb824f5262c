"""The only module of notification-service that talks to Dapr: the API key secret and the
claims (first-write records per event id) in its state store."""

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import TypeVar

from dapr.clients.grpc._state import Concurrency, StateOptions

from dapr_sidecar import SidecarConnection
from notifier.claims import Claim
from notifier.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")


class SecretUnavailableError(Exception):
    """The API key could not be read from the Dapr secret store."""


class StateUnavailableError(Exception):
    """The claims could not be read or written: the caller should retry later."""


class ClaimTakenError(Exception):
    """Another writer created or changed the claim first."""


class DaprIO:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.sidecar = SidecarConnection(settings.sidecar_wait_seconds)
        self._key: str | None = None
        self._read_at = 0.0

    async def api_key(self) -> str:
        s = self._settings
        if self._key is not None and time.monotonic() - self._read_at < s.secret_cache_seconds:
            return self._key
        where = f"secret {s.secret_name!r} in Dapr secret store {s.secret_store!r}"
        client = self.sidecar.client
        if client is None:
            raise SecretUnavailableError(f"cannot read {where}: the sidecar is not reachable yet")
        try:
            async with asyncio.timeout(s.dapr_call_timeout_seconds):
                resp = await client.get_secret(s.secret_store, s.secret_name)
        except Exception as exc:  # gRPC errors of every kind mean the same to the caller
            raise SecretUnavailableError(f"cannot read {where}: {exc}") from exc
        value = resp.secret.get(s.secret_key)
        if not value:
            raise SecretUnavailableError(f"{where} has no key {s.secret_key!r}")
        self._key, self._read_at = value, time.monotonic()
        return value

    async def _state(self, what: str, call: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(self._settings.dapr_call_timeout_seconds):
                return await call
        except Exception as exc:  # gRPC errors of every kind: the caller retries later
            raise StateUnavailableError(
                f"{what} in state store {self._settings.state_store!r}: {exc}"
            ) from exc

    async def read_claim(self, key: str) -> tuple[Claim, str] | None:
        client = self.sidecar.client
        if client is None:
            raise StateUnavailableError("the Dapr sidecar is not reachable yet")
        resp = await self._state(
            f"reading {key!r}", client.get_state(self._settings.state_store, key)
        )
        if not resp.data:
            return None
        return Claim.model_validate_json(resp.data), resp.etag

    async def write_claim(self, key: str, claim: Claim, etag: str | None) -> None:
        """etag None: create only (first write); else replace exactly that version.

        Raises ClaimTakenError when another writer got there first.
        """
        client = self.sidecar.client
        if client is None:
            raise StateUnavailableError("the Dapr sidecar is not reachable yet")
        s = self._settings
        try:
            await self._state(
                f"writing {key!r}",
                client.save_state(
                    s.state_store,
                    key,
                    claim.model_dump_json(),
                    etag=etag,
                    options=StateOptions(concurrency=Concurrency.first_write),
                    state_metadata={"ttlInSeconds": str(s.claim_ttl_seconds)},
                ),
            )
        except StateUnavailableError:
            # A refused first write or a stale ETag comes back as an error like any other:
            # it was a lost race exactly when the stored claim is not the one we replaced.
            current = await self.read_claim(key)
            if current is not None and current[1] != etag:
                raise ClaimTakenError(key) from None
            raise
