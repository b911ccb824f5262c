"""The one async DaprClient of a process, made without blocking the event loop, and the
lifespan piece that connects it in the background. Shared by the Task API and
notification-service, whose dapr_io modules make every call through it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from dapr.aio.clients import DaprClient
from dapr.aio.clients.health import DaprHealth

log = logging.getLogger(__name__)


class SidecarConnection:
    """Holds the client once the sidecar answers; ``client`` is None until then."""

    def __init__(self, wait_seconds: float) -> None:
        self._wait_seconds = wait_seconds
        self.client: DaprClient | None = None

    async def connect(self) -> None:
        # The SDK constructor probes the sidecar with blocking calls (urllib + time.sleep);
        # waiting on the SDK's async probe first makes that one return at once.
        while self.client is None:
            try:
                async with asyncio.timeout(self._wait_seconds):
                    await DaprHealth.wait_for_sidecar()  # type: ignore[no-untyped-call]
            except TimeoutError:
                log.warning("Dapr sidecar not reachable yet; still waiting")
                continue
            self.client = DaprClient()
            log.info("Dapr client ready")

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()  # type: ignore[no-untyped-call]
            self.client = None


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
