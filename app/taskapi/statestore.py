"""What the Task API needs from a state store, as a Protocol: Dapr's is taskapi.dapr_io, a
dict-backed one serves the unit tests. Every value is one type, ``Versioned``.

Only the store layer (taskapi.tasks, taskapi.shards, taskapi.activity) sees versions: they
are the store's ETags (Redis counters, PostgreSQL uuids), checked on write for optimistic
concurrency, and never leave that layer (a task's HTTP ETag is its revision instead).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel

# Metadata a Dapr state store Component needs for transact() to publish (the outbox): without
# it daprd stores the event as a plain value, and Redis then half-applies the transaction.
OUTBOX_METADATA = ("outboxPublishPubsub", "outboxPublishTopic")


@dataclass(frozen=True)
class Versioned:
    """A stored value and the store's version of it (its ETag)."""

    data: bytes
    version: str


@dataclass(frozen=True)
class Write:
    """One upsert of a transaction."""

    key: str
    value: bytes
    # The version the key must still have; None writes whatever is stored.
    version: str | None = None
    ttl_seconds: int | None = None


@dataclass(frozen=True)
class Announce:
    """The event a transaction publishes (the outbox), as the event of the write to ``key``."""

    key: str
    event: bytes


class StateStore(Protocol):
    """Raises taskapi.errors.EtagConflictError when a version no longer matches, and
    DaprUnavailableError when the store (or the sidecar) cannot serve the call."""

    async def get(self, key: str) -> Versioned | None: ...

    async def get_many(self, keys: list[str]) -> dict[str, Versioned]:
        """The keys that exist (missing ones are left out)."""
        ...

    async def put(
        self, key: str, value: bytes, version: str | None, ttl_seconds: int | None = None
    ) -> None:
        """Write outside a transaction (publishes nothing). With version None it only
        creates: a key that exists is refused (first-write)."""
        ...

    async def delete(self, key: str, version: str | None) -> None: ...

    async def transact(self, writes: list[Write], announce: Announce) -> None:
        """All ``writes`` or none, and ``announce`` published once they commit."""
        ...


def encode(model: BaseModel) -> bytes:
    """``model`` as stored, validated on the way out too: nothing is stored that cannot be
    read back."""
    type(model).model_validate_json(raw := model.model_dump_json())
    return raw.encode()
