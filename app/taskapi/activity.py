"""What the event subscription has processed, per task: its dedup record and observable effect.

At-least-once delivery becomes an exactly-once effect through ``record_once(event)``: the
event id is written into the task's activity document under its store version, so of two
concurrent deliveries only one records it. ``look(event)`` reads the activity and the
task's record in one call, since the subscription needs both for every event.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from taskapi.conflicts import retrying
from taskapi.errors import DaprUnavailableError, EtagConflictError
from taskapi.models import EventType, ReceivedEvent, TaskActivity, TaskEvent, utcnow
from taskapi.records import TaskRecord
from taskapi.settings import Settings
from taskapi.statestore import StateStore, Versioned, encode
from taskapi.tasks import parse_record, task_key

ACTIVITY_PREFIX = "activity:"


def activity_key(task_id: str) -> str:
    return f"{ACTIVITY_PREFIX}{task_id}"


def parse_activity(stored: Versioned | None) -> TaskActivity | None:
    return TaskActivity.model_validate_json(stored.data) if stored else None


def with_event(activity: TaskActivity | None, event: TaskEvent) -> TaskActivity | None:
    """The activity with ``event`` recorded once; None when it is already there (no write)."""
    if activity is not None and activity.has(event.event_id):
        return None
    base = activity or TaskActivity(task_id=event.task_id)
    received = ReceivedEvent(
        event_id=event.event_id, event_type=event.event_type, received_at=utcnow()
    )
    return base.model_copy(update={"events": [*base.events, received]})


@dataclass(frozen=True)
class Sighting:
    """What one read found for an event: recorded already? and the task's stored record."""

    recorded: bool
    record: TaskRecord | None
    # The activity as read, so record_once need not read it again (store layer only).
    _stored: Versioned | None = field(default=None, repr=False)


class ActivityLog:
    def __init__(self, state: StateStore, settings: Settings) -> None:
        self._state = state
        self._settings = settings

    async def get(self, task_id: str) -> TaskActivity | None:
        return parse_activity(await self._state.get(activity_key(task_id)))

    async def look(self, event: TaskEvent) -> Sighting:
        keys = [activity_key(event.task_id), task_key(event.task_id)]
        found = await self._state.get_many(keys)
        stored = found.get(keys[0])
        activity = parse_activity(stored)
        recorded = activity is not None and activity.has(event.event_id)
        return Sighting(recorded, parse_record(found.get(keys[1])), stored)

    async def record_once(self, event: TaskEvent, seen: Sighting | None = None) -> bool:
        """Record ``event`` unless it is there already; True when this call recorded it.

        ``seen`` (from look()) saves the first read. A deleted task's activity expires with
        its tombstone.
        """
        key = activity_key(event.task_id)
        deleting = event.event_type == EventType.DELETED
        ttl = self._settings.tombstone_ttl_seconds if deleting else None
        first: list[Versioned | None] = [seen._stored] if seen is not None else []

        async def attempt() -> bool:
            stored = first.pop() if first else await self._state.get(key)
            new = with_event(parse_activity(stored), event)
            if new is None:
                return False
            version = stored.version if stored else None
            try:
                await self._state.put(key, encode(new), version, ttl_seconds=ttl)
            except DaprUnavailableError:
                # A refused first write surfaces as a plain store error: it is a conflict
                # exactly when another writer created the document meanwhile.
                if stored is not None or await self._state.get(key) is None:
                    raise
                raise EtagConflictError(key) from None
            return True

        return await retrying(self._settings, key, attempt)
