"""Idempotent record of notifications, keyed by event id (process memory: a reference service)."""

import asyncio
from datetime import UTC, datetime

from notifier.models import Notification, NotifyRequest


class Recorder:
    def __init__(self) -> None:
        self._by_event: dict[str, Notification] = {}
        self._lock = asyncio.Lock()

    async def record(self, request: NotifyRequest) -> bool:
        """True when this event is new; a repeated event only counts as a duplicate."""
        async with self._lock:
            known = self._by_event.get(request.event_id)
            if known is not None:
                known.duplicates += 1
                return False
            self._by_event[request.event_id] = Notification(
                event_id=request.event_id, task_id=request.task_id,
                event_type=request.event_type, title=request.title,
                received_at=datetime.now(UTC),
            )
            return True

    def list(self, task_id: str | None = None) -> list[Notification]:
        return [n for n in self._by_event.values() if task_id is None or n.task_id == task_id]
