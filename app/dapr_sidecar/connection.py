"""The one async DaprClient of a process, made without blocking the event loop, and the
lifespan piece that connects it in the background (both apps make every call through it)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import aiohttp  # the SDK's own HTTP dependency, used here only to probe the sidecar
from dapr.aio.clients import DaprClient
from dapr.clients.http.conf import DAPR_API_TOKEN_HEADER
from dapr.clients.http.helpers import get_api_url
from dapr.conf import settings

log = logging.getLogger(__name__)


class SidecarConnection:
    """Holds the client once the sidecar answers; ``client`` is None until then."""

    def __init__(self, wait_seconds: float) -> None:
        self._wait_seconds = wait_seconds
        self.client: DaprClient | None = None

    async def connect(self) -> None:
        # The SDK constructor probes the sidecar with blocking calls (urllib + time.sleep);
        # waiting here first, without blocking, makes that probe return at once. Not the
        # SDK's async probe: it print()s every failed attempt, which breaks JSON logs.
        while self.client is None:
            try:
                async with asyncio.timeout(self._wait_seconds):
                    await _wait_for_sidecar()
            except TimeoutError:
                log.warning("Dapr sidecar not reachable yet; still waiting url=%s", get_api_url())
                continue
            self.client = DaprClient()
            log.info("Dapr client ready")

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()  # type: ignore[no-untyped-call]
            self.client = None


async def _wait_for_sidecar(interval: float = 0.5) -> None:
    """Until the sidecar's outbound health endpoint answers 2xx (runs under a timeout)."""
    url = f"{get_api_url()}/healthz/outbound"
    token = settings.DAPR_API_TOKEN
    headers = {DAPR_API_TOKEN_HEADER: token} if token else {}
    probe = aiohttp.ClientTimeout(total=2)
    async with aiohttp.ClientSession(timeout=probe) as session:
        while True:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(url, headers=headers) as response:
                    if response.ok:
                        return
            await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def connected_in_background(sidecar: SidecarConnection) -> AsyncIterator[None]:
    """For a lifespan: the app serves (/health, 503s) while its sidecar is still starting,
    instead of failing to boot; the client is closed on the way out."""
    connecting = asyncio.create_task(sidecar.connect(), name="dapr-connect")
    try:
        yield
    finally:
        connecting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await connecting
        await sidecar.close()
