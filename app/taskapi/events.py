"""Pure builders of the TaskEvents written with create, status change and delete."""

from taskapi.models import EventType, Task, TaskEvent, TaskStatus

__all__ = ["TaskEvent", "created", "deleted", "status_changed"]


def _event(event_type: EventType, task: Task) -> TaskEvent:
    return TaskEvent(
        event_type=event_type,
        task_id=task.id,
        title=task.title,
        status=task.status,
        revision=task.revision,
        timestamp=task.updated_at,
    )


def created(task: Task) -> TaskEvent:
    return _event(EventType.CREATED, task)


def deleted(task: Task) -> TaskEvent:
    """`task` is the tombstone's version (the revision the delete wrote)."""
    return _event(EventType.DELETED, task)


def status_changed(before: Task, after: Task) -> TaskEvent | None:
    """None when the status did not change: only real transitions are announced."""
    if before.status == after.status:
        return None
    kind = EventType.COMPLETED if after.status == TaskStatus.COMPLETED else EventType.STATUS_CHANGED
    return _event(kind, after)
