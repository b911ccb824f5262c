"""Whether referenced Secrets exist, checked at most once per interval per namespace.

deploy/operator grants no access to Secrets, so by default every GET is forbidden: that
means "cannot verify", not "missing", and is remembered for the namespace so the next passes
do not ask again. Granting the operator ``get`` on secrets in a namespace (a Role +
RoleBinding there) turns the SecretNotFound check on within one interval.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable

from taskapi_operator.kube import KubeError

Exists = Callable[[str, str], Awaitable[bool]]


class SecretChecks:
    def __init__(
        self, exists: Exists, interval: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._exists = exists
        self._interval = interval
        self._clock = clock
        self._forbidden_until: dict[str, float] = {}
        self._known: dict[tuple[str, str], tuple[bool, float]] = {}

    async def missing(self, namespace: str, secrets: Iterable[str]) -> list[str]:
        now = self._clock()
        if self._forbidden_until.get(namespace, 0.0) > now:
            return []
        out = []
        for name in secrets:
            known = self._known.get((namespace, name))
            if known is None or known[1] <= now:
                try:
                    exists = await self._exists(namespace, name)
                except KubeError as e:
                    if e.status == 403:
                        self._forbidden_until[namespace] = now + self._interval
                        return []
                    raise
                known = (exists, now + self._interval)
                self._known[(namespace, name)] = known
            if not known[0]:
                out.append(name)
        return out
