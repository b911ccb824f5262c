"""Ask each ready pod's daprd (metadata API) whether the app's subscription is registered."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

import aiohttp

from taskapi_operator import names
from taskapi_operator.settings import OperatorSettings
from taskapi_operator.status import PodProbe


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


async def probe_pods(
    settings: OperatorSettings, pods: Iterable[tuple[str, str]], pubsub: str, topic: str
) -> list[PodProbe]:
    """Probe ``(pod name, pod IP)`` pairs concurrently; failures become PodProbe errors."""
    targets = list(pods)
    if not targets:
        return []
    timeout = aiohttp.ClientTimeout(total=settings.probe_timeout_seconds)
    # trust_env=False: never route a pod probe through a proxy from the environment.
    async with aiohttp.ClientSession(timeout=timeout, trust_env=False) as session:
        calls = [
            _probe_one(session, settings, pod=name, pod_ip=ip, pubsub=pubsub, topic=topic)
            for name, ip in targets
        ]
        return list(await asyncio.gather(*calls))
