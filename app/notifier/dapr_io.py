"""The only module of notification-service that talks to Dapr: it reads the API key secret."""

import asyncio
import logging
import time

from dapr_sidecar import SidecarConnection
from notifier.settings import Settings

log = logging.getLogger(__name__)


class SecretUnavailableError(Exception):
    """The API key could not be read from the Dapr secret store."""


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
