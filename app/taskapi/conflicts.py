"""The one retry loop of the store layer: re-read and re-apply a change another writer beat."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from taskapi.errors import ConflictRetriesExhaustedError, EtagConflictError
from taskapi.settings import Settings

T = TypeVar("T")


async def retrying(settings: Settings, what: str, attempt: Callable[[], Awaitable[T]]) -> T:
    """``attempt()`` until it does not raise EtagConflictError, at most conflict_retries times."""
    retries = settings.conflict_retries
    for n in range(retries):
        try:
            return await attempt()
        except EtagConflictError:
            # Jitter spreads out writers that collided, so the retries do not collide again.
            base = settings.conflict_backoff_seconds * min(n + 1, 10)
            await asyncio.sleep(base * (0.5 + random.random()))  # noqa: S311 - not crypto
    raise ConflictRetriesExhaustedError(what, retries)
