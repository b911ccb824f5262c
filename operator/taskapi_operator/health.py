"""The operator's own HTTP port: /metrics for Prometheus, /livez and /readyz for the kubelet.

Liveness answers "is the reconcile loop moving?": it fails only when work is pending and no
pass has finished for ``stuck_after`` seconds (an event loop that is blocked outright fails
it too, by not answering). Readiness answers "can this replica do its job now?": the leader
when it holds the Lease, a standby when it sees the Lease (the API answers) and so can take
over. Gating readiness on leadership instead would leave a standby never Ready, and a
RollingUpdate or PodDisruptionBudget would then wait on it forever.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


def stuck(pending: int, last_progress: float, now: float, stuck_after: float) -> bool:
    """Work is waiting and nothing finished for ``stuck_after`` seconds."""
    return pending > 0 and now - last_progress > stuck_after


class Progress:
    """When the reconcile loop last moved: a pass finished, or nothing was waiting.

    Fed by the work queue's pass observer; an idle queue seen by a probe counts as
    progress too, so the first pass after a long quiet spell is not mistaken for a stall.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.last = clock()

    def passed(self, *_: object) -> None:
        self.last = self._clock()

    def stuck(self, pending: int, stuck_after: float) -> bool:
        now = self._clock()
        if pending == 0:
            self.last = now
        return stuck(pending, self.last, now, stuck_after)


def ready(leading: bool, last_round: float, now: float, lease_duration: float) -> bool:
    """Leader, or a standby that read the Lease within one lease duration."""
    return leading or (last_round > 0 and now - last_round < lease_duration)


@dataclass
class Probes:
    """Callables into the running work queue and elector, and the metrics registry."""

    registry: CollectorRegistry
    pending: Callable[[], int]
    progress: Progress
    stuck_after: float
    leading: Callable[[], bool]
    last_round: Callable[[], float]
    lease_duration: float
    clock: Callable[[], float] = time.monotonic


def _text(status: int, body: str) -> web.Response:
    return web.Response(status=status, text=body + "\n")


def app(probes: Probes) -> web.Application:
    async def metrics(_: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(probes.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def livez(_: web.Request) -> web.Response:
        if probes.progress.stuck(probes.pending(), probes.stuck_after):
            return _text(
                503,
                f"reconcile stuck: {probes.pending()} pending, no pass finished "
                f"for more than {probes.stuck_after:.0f}s",
            )
        return _text(200, "ok")

    async def readyz(_: web.Request) -> web.Response:
        leading = probes.leading()
        if ready(leading, probes.last_round(), probes.clock(), probes.lease_duration):
            return _text(200, "leader" if leading else "standby")
        return _text(503, "cannot read the leader-election Lease")

    application = web.Application()
    application.add_routes(
        [
            web.get("/metrics", metrics),
            web.get("/livez", livez),
            web.get("/readyz", readyz),
        ]
    )
    return application


async def serve(probes: Probes, host: str, port: int) -> web.AppRunner:
    """Start serving; the caller keeps the runner and calls ``cleanup()`` on shutdown."""
    runner = web.AppRunner(app(probes), handle_signals=False, shutdown_timeout=1.0, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
