"""Read-modify-write of one JSON state document under the store's ETag, retried on conflict."""

import asyncio
import random
from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel

from taskapi.dapr_io import DaprIO
from taskapi.errors import ConflictRetriesExhaustedError, DaprUnavailableError, EtagConflictError
from taskapi.settings import Settings

M = TypeVar("M", bound=BaseModel)


async def backoff(settings: Settings, attempt: int) -> None:
    # Jitter spreads out writers that collided, so the retries do not collide again.
    base = settings.conflict_backoff_seconds * min(attempt + 1, 10)
    await asyncio.sleep(base * (0.5 + random.random()))  # noqa: S311 - jitter, not crypto


async def mutate(
    io: DaprIO,
    settings: Settings,
    key: str,
    *,
    model: type[M],
    change: Callable[[M | None], M | None],
    ttl_seconds: int | None = None,
) -> M | None:
    """Apply `change` to the document at `key` until the write wins; None from it: no write.

    `change` sees the current value (None when missing) and may raise to abort.
    """
    for attempt in range(settings.conflict_retries):
        stored = await io.get(key)
        current = model.model_validate_json(stored.data) if stored else None
        new = change(current)
        if new is None or new == current:
            return current
        try:
            await io.put(key, new.model_dump_json(), stored.etag if stored else None, ttl_seconds)
            return new
        except EtagConflictError:
            pass
        except DaprUnavailableError:
            # A refused create surfaces as a plain store error: it is a conflict exactly when
            # another writer created the document meanwhile.
            if stored is not None or await io.get(key) is None:
                raise
        await backoff(settings, attempt)
    raise ConflictRetriesExhaustedError(key, settings.conflict_retries)
