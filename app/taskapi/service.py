"""Task use cases: each change is one store transaction that carries its own event."""

from taskapi import events
from taskapi.index import format_cursor, parse_cursor
from taskapi.models import (
    Task,
    TaskCreate,
    TaskPage,
    TaskStatus,
    TaskUpdate,
    new_id,
    utcnow,
)
from taskapi.settings import Settings
from taskapi.tasks import TaskStore


def touched(task: Task, **changes: object) -> Task:
    """A new version of `task`: the changes, a later updated_at, the next revision.

    Validated (model_validate, not model_copy): a change that would not read back is
    refused before anything is written.
    """
    data = {**task.model_dump(), **changes, "updated_at": utcnow(), "revision": task.revision + 1}
    return Task.model_validate(data)


class TaskService:
    def __init__(self, store: TaskStore, settings: Settings) -> None:
        self._settings = settings
        self._store = store

    async def create(self, body: TaskCreate) -> Task:
        now = utcnow()
        task = Task.model_validate(
            {"id": new_id(), "created_at": now, "updated_at": now, **body.model_dump()}
        )
        return await self._store.create(task, events.created(task))

    async def get(self, task_id: str) -> Task:
        return await self._store.get(task_id)

    async def update(self, task_id: str, body: TaskUpdate, if_match: str | None) -> Task:
        changes = body.changes()

        def change(task: Task) -> tuple[Task, None]:
            # A plain edit announces nothing (events cover create, status and delete), but
            # it still moves the revision, so If-Match sees it.
            return touched(task, **changes), None

        _, after = await self._store.change(task_id, if_match, change)
        return after

    async def set_status(self, task_id: str, status: TaskStatus, if_match: str | None) -> Task:
        def change(task: Task) -> tuple[Task, events.TaskEvent | None]:
            if task.status == status:
                return task, None  # nothing to write, nothing to announce
            after = touched(task, status=status)
            return after, events.status_changed(task, after)

        _, after = await self._store.change(task_id, if_match, change)
        return after

    async def delete(self, task_id: str, if_match: str | None) -> None:
        def change(task: Task) -> tuple[Task, events.TaskEvent]:
            gone = touched(task)
            return gone, events.deleted(gone)

        await self._store.change(task_id, if_match, change, delete=True)

    async def list(self, cursor: str | None, limit: int | None) -> TaskPage:
        size = min(limit or self._settings.page_size_default, self._settings.page_size_max)
        items, after = await self._store.page(parse_cursor(cursor), size)
        return TaskPage(items=items, next_cursor=format_cursor(after), limit=size)
