"""Whether referenced Secrets exist, asked of the API at most once per interval per Secret.

deploy/operator grants no access to Secrets (a watch would need list and watch on every
Secret of the cluster), so by default every GET is forbidden: that means "cannot verify", not
"missing", and is remembered for the namespace so the next passes do not ask again. Granting
the operator ``get`` on secrets in a namespace (a Role + RoleBinding there) turns the
SecretNotFound check on within one interval.

Answers are shared: 1000 TaskApis referencing the same two Secrets cost two GETs per
interval, also when their passes come due together (concurrent checks of one Secret wait for
the one request in flight instead of each sending their own).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable

from taskapi_operator.kube import KubeError

Exists = Callable[[str, str], Awaitable[bool]]
_Key = tuple[str, str]  # (namespace, name)


def _retrieve(flight: asyncio.Future[bool]) -> None:
    """A check whose every waiter was cancelled must not log "exception never retrieved"."""
    if not flight.cancelled():
        flight.exception()


class SecretChecks:
    def __init__(
        self, exists: Exists, interval: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._exists = exists
        self._interval = interval
        self._clock = clock
        self._forbidden_until: dict[str, float] = {}
        self._known: dict[_Key, tuple[bool, float]] = {}  # (exists, valid until)
        self._flights: dict[_Key, asyncio.Future[bool]] = {}
        self.requests = 0

    async def missing(self, namespace: str, secrets: Iterable[str]) -> list[str]:
        out = []
        for name in secrets:
            if self._forbidden_until.get(namespace, 0.0) > self._clock():
                return []
            try:
                exists = await self._exists_cached((namespace, name))
            except KubeError as e:
                if e.status == 403:
                    self._forbidden_until[namespace] = self._clock() + self._interval
                    return []
                raise
            if not exists:
                out.append(name)
        return out

    async def _exists_cached(self, key: _Key) -> bool:
        known = self._known.get(key)
        if known is not None and known[1] > self._clock():
            return known[0]
        flight = self._flights.get(key)
        if flight is None:
            flight = asyncio.ensure_future(self._check(key))
            self._flights[key] = flight
            flight.add_done_callback(lambda _: self._flights.pop(key, None))
            flight.add_done_callback(_retrieve)
        # shielded: a pass cancelled meanwhile does not cancel the others' answer
        return await asyncio.shield(flight)

    async def _check(self, key: _Key) -> bool:
        self.requests += 1
        exists = await self._exists(*key)
        self._known[key] = (exists, self._clock() + self._interval)
        return exists
