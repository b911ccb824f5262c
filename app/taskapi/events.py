"""Pure builders of the TaskEvents published on create, status change and delete."""

from datetime import datetime

from taskapi.models import EventType, Task, TaskEvent, TaskStatus


def _event(event_type: EventType, task: Task, now: datetime) -> TaskEvent:
    return TaskEvent(
        event_type=event_type, task_id=task.id, title=task.title, status=task.status,
        timestamp=now,
    )


def created(task: Task, now: datetime) -> TaskEvent:
    return _event(EventType.CREATED, task, now)


def deleted(task: Task, now: datetime) -> TaskEvent:
    return _event(EventType.DELETED, task, now)


def status_changed(before: Task, after: Task, now: datetime) -> TaskEvent | None:
    """None when the status did not change: only real transitions are announced."""
    if before.status == after.status:
        return None
    kind = EventType.COMPLETED if after.status == TaskStatus.COMPLETED else EventType.STATUS_CHANGED
    return _event(kind, after, now)
