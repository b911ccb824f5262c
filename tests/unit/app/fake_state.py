"""A StateStore (taskapi.statestore) on a dict, for unit tests of the store layer and routes.

Versions are per-key counters; a write under a stale version, or a create-only write of a
key that exists, raises EtagConflictError; a transaction checks every version before it
applies anything (the PostgreSQL behaviour) and records its announced event.
"""

from __future__ import annotations

from taskapi.errors import EtagConflictError
from taskapi.statestore import Announce, Versioned, Write


class FakeState:
    def __init__(self) -> None:
        self.values: dict[str, Versioned] = {}
        self.gets: list[str] = []
        self.puts: list[str] = []
        self.announced: list[bytes] = []
        self.published: list[bytes] = []

    def store(self, key: str, value: bytes) -> None:
        """Write ``key`` as another writer would (no checks, next version)."""
        version = int(self.values[key].version) + 1 if key in self.values else 1
        self.values[key] = Versioned(value, str(version))

    def _check(self, key: str, version: str | None) -> None:
        current = self.values.get(key)
        if version is None and current is not None:
            raise EtagConflictError(f"{key} exists (first write)")
        if version is not None and current is not None and current.version != version:
            raise EtagConflictError(f"{key} is at {current.version}, not {version}")

    async def get(self, key: str) -> Versioned | None:
        self.gets.append(key)
        return self.values.get(key)

    async def get_many(self, keys: list[str]) -> dict[str, Versioned]:
        self.gets.extend(keys)
        return {k: self.values[k] for k in keys if k in self.values}

    async def put(
        self, key: str, value: bytes, version: str | None, ttl_seconds: int | None = None
    ) -> None:
        self._check(key, version)
        self.puts.append(key)
        self.store(key, value)

    async def delete(self, key: str, version: str | None) -> None:
        if version is not None:
            self._check(key, version)
        self.values.pop(key, None)

    async def transact(self, writes: list[Write], announce: Announce) -> None:
        for w in writes:
            # Dapr checks no version on a missing key, and a transaction's write is no create
            if w.version is not None and w.key in self.values:
                self._check(w.key, w.version)
        for w in writes:
            self.store(w.key, w.value)
            # what Dapr's outbox publishes: a message per written value, the announced
            # event in place of the value written to its key
            self.published.append(announce.event if w.key == announce.key else w.value)
        self.announced.append(announce.event)
