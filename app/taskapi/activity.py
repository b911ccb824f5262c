"""What the event subscription has processed, per task: its dedup record and observable effect.

At-least-once delivery becomes an exactly-once effect through ``record_once(events)``: the
event ids are written into the task's activity document under its store version, so of two
concurrent deliveries only one records them. ``look(task_ids)`` reads the activities and the
records of a batch's tasks in one call, since the subscription needs both for every event;
a batch's events of one task (its creation and completion, often delivered together) are
recorded in one write.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def with_events(activity: TaskActivity | None, events: Sequence[TaskEvent]) -> TaskActivity | None:
    """The activity with each of ``events`` (one task's) recorded once, in their order; None
    when every one is there already (no write)."""
    now = utcnow()
    added: list[ReceivedEvent] = []
    ids = {e.event_id for e in activity.events} if activity is not None else set()
    for event in events:
        if event.event_id not in ids:
            ids.add(event.event_id)
            added.append(
                ReceivedEvent(event_id=event.event_id, event_type=event.event_type, received_at=now)
            )
    if not added:
        return None
    base = activity or TaskActivity(task_id=events[0].task_id)
    return base.model_copy(update={"events": [*base.events, *added]})


@dataclass(frozen=True)
class Sighting:
    """What one read found for a task: its activity (which events are recorded already) and
    its stored record (what verifies an event)."""

    activity: TaskActivity | None
    record: TaskRecord | None
    # The activity's store version as read, so record_once need not read it again (store
    # layer only; None: no activity yet).
    _version: str | None = field(default=None, repr=False)

    def recorded(self, event: TaskEvent) -> bool:
        return self.activity is not None and self.activity.has(event.event_id)


class ActivityLog:
    def __init__(self, state: StateStore, settings: Settings) -> None:
        self._state = state
        self._settings = settings

    async def get(self, task_id: str) -> TaskActivity | None:
        return parse_activity(await self._state.get(activity_key(task_id)))

    async def look(self, task_ids: Sequence[str]) -> dict[str, Sighting]:
        """Each task's activity and record, all in one read."""
        keys = [k for t in task_ids for k in (activity_key(t), task_key(t))]
        found = await self._state.get_many(keys)
        seen: dict[str, Sighting] = {}
        for task_id in task_ids:
            stored = found.get(activity_key(task_id))
            record = parse_record(found.get(task_key(task_id)))
            version = stored.version if stored else None
            seen[task_id] = Sighting(parse_activity(stored), record, version)
        return seen

    async def record_once(self, events: Sequence[TaskEvent], seen: Sighting | None = None) -> bool:
        """Record each of ``events`` (one task's) that is not there yet, in one write; True
        when this call recorded any.

        ``seen`` (from look()) saves the first read. A deleted task's activity expires with
        its tombstone.
        """
        key = activity_key(events[0].task_id)
        deleting = any(e.event_type == EventType.DELETED for e in events)
        ttl = self._settings.tombstone_ttl_seconds if deleting else None
        first = [(seen.activity, seen._version)] if seen is not None else []

        async def attempt() -> bool:
            if first:  # what look() read, already parsed
                activity, version = first.pop()
            else:
                stored = await self._state.get(key)
                activity, version = parse_activity(stored), stored.version if stored else None
            new = with_events(activity, events)
            if new is None:
                return False
            try:
                await self._state.put(key, encode(new), version, ttl_seconds=ttl)
            except DaprUnavailableError:
                # A refused first write surfaces as a plain store error: it is a conflict
                # exactly when another writer created the document meanwhile.
                if version is not None or await self._state.get(key) is None:
                    raise
                raise EtagConflictError(key) from None
            return True

        return await retrying(self._settings, key, attempt)
