"""One secret read from the Dapr secret store and cached, shared by both apps.

The Task API sends the notification-service API key on every completion and
notification-service checks it on every request: reading it per call would add a sidecar
round trip to each. A cached value is trusted for ``ttl_seconds`` (None: until forgotten);
a caller whose key was rejected forgets it, so the next call reads the rotated one.
"""

from __future__ import annotations

import time

from dapr_sidecar.calls import ErrorType, SidecarCalls


class CachedSecret:
    def __init__(
        self,
        calls: SidecarCalls,
        store: str,
        name: str,
        key: str,
        *,
        ttl_seconds: float | None,
        missing: ErrorType,
    ) -> None:
        self._calls = calls
        self._store = store
        self._name = name
        self._key = key
        self._ttl = ttl_seconds
        self._missing = missing
        self._value: str | None = None
        self._read_at = 0.0

    @property
    def where(self) -> str:
        return f"secret {self._name!r} in Dapr secret store {self._store!r}"

    async def get(self) -> str:
        fresh = self._ttl is None or time.monotonic() - self._read_at < self._ttl
        if self._value is not None and fresh:
            return self._value
        resp = await self._calls.call(
            f"reading {self.where}", lambda c: c.get_secret(self._store, self._name)
        )
        value = resp.secret.get(self._key)
        if not value:
            raise self._missing(f"{self.where} has no key {self._key!r}")
        self._value, self._read_at = value, time.monotonic()
        return value

    def forget(self) -> None:
        self._value = None
