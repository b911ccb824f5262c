"""Ask each ready pod's daprd (metadata API) whether the app's subscription is registered."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import aiohttp

from taskapi_operator import names
from taskapi_operator.settings import OperatorSettings
from taskapi_operator.status.subscription import PodProbe


def has_subscription(metadata: Mapping[str, Any], pubsub: str, topic: str) -> bool:
    """True when the sidecar's metadata lists ``pubsub``/``topic`` among its subscriptions."""
    for sub in metadata.get("subscriptions") or []:
        if sub.get("pubsubname") == pubsub and sub.get("topic") == topic:
            return True
    return False


def metadata_url(settings: OperatorSettings, pod_ip: str) -> str:
    host = f"[{pod_ip}]" if ":" in pod_ip else pod_ip
    return f"{settings.probe_scheme}://{host}:{settings.probe_port}{names.DAPR_METADATA_PATH}"


async def _probe_one(
    session: aiohttp.ClientSession,
    settings: OperatorSettings,
    *,
    pod: str,
    pod_ip: str,
    pubsub: str,
    topic: str,
) -> PodProbe:
    url = metadata_url(settings, pod_ip)
    try:
        async with session.get(url) as response:
            if response.status != 200:
                return PodProbe(pod, error=f"GET {url}: HTTP {response.status}")
            body = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as e:
        return PodProbe(pod, error=f"GET {url}: {type(e).__name__}: {e}".rstrip(": "))
    if not isinstance(body, Mapping):
        return PodProbe(pod, error=f"GET {url}: unexpected body")
    return PodProbe(pod, registered=has_subscription(body, pubsub, topic))


# Called with each probe call's results (metrics count them by state).
ResultObserver = Callable[[list[PodProbe]], None]


def _ignore(_results: list[PodProbe]) -> None:
    return None


class Prober:
    """One HTTP session for every probe of every TaskApi, at most ``probe_concurrency`` in
    flight: the cost of a resync grows with the pods, not with sessions or sockets."""

    def __init__(self, settings: OperatorSettings, on_results: ResultObserver = _ignore) -> None:
        self._settings = settings
        self._on_results = on_results
        self._limit = asyncio.Semaphore(settings.probe_concurrency)
        self._session: aiohttp.ClientSession | None = None
        self.probes = 0

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=self._settings.probe_timeout_seconds)
            # trust_env=False: never route a pod probe through a proxy from the environment.
            connector = aiohttp.TCPConnector(limit=self._settings.probe_concurrency)
            self._session = aiohttp.ClientSession(
                timeout=timeout, trust_env=False, connector=connector
            )
        return self._session

    async def _one(self, pod: str, pod_ip: str, pubsub: str, topic: str) -> PodProbe:
        async with self._limit:
            self.probes += 1
            return await _probe_one(
                self._open(), self._settings, pod=pod, pod_ip=pod_ip, pubsub=pubsub, topic=topic
            )

    async def probe(
        self, pods: Iterable[tuple[str, str]], pubsub: str, topic: str
    ) -> list[PodProbe]:
        """Probe ``(pod name, pod IP)`` pairs; failures become PodProbe errors."""
        calls = [self._one(name, ip, pubsub, topic) for name, ip in pods]
        results = list(await asyncio.gather(*calls)) if calls else []
        self._on_results(results)
        return results

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
