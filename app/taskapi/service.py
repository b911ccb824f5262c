"""Task use cases: persist through the store, then announce the change on pub/sub."""

from taskapi import events
from taskapi.dapr_io import DaprIO
from taskapi.errors import DaprUnavailableError, TaskApiError
from taskapi.index import format_cursor, parse_cursor
from taskapi.models import (
    Task,
    TaskCreate,
    TaskEvent,
    TaskPage,
    TaskStatus,
    TaskUpdate,
    new_id,
    utcnow,
)
from taskapi.settings import Settings
from taskapi.store import TaskStore, Versioned, touched


class TaskService:
    def __init__(self, io: DaprIO, settings: Settings) -> None:
        self._io = io
        self._settings = settings
        self.store = TaskStore(io, settings)

    async def _announce(self, event: TaskEvent | None, done: str) -> None:
        if event is None:
            return
        try:
            await self._io.publish(event)
        except TaskApiError as exc:
            # The change is stored; say so, so the client does not blindly repeat a create.
            raise DaprUnavailableError(
                f"{done}, but its {event.event_type} event could not be published: {exc}"
            ) from exc

    async def create(self, body: TaskCreate) -> Versioned:
        now = utcnow()
        task = Task(id=new_id(), created_at=now, updated_at=now, **body.model_dump())
        saved = await self.store.insert(task)
        await self._announce(events.created(task, now), f"task {task.id} was created")
        return saved

    async def get(self, task_id: str) -> Versioned:
        return await self.store.get(task_id)

    async def update(self, task_id: str, body: TaskUpdate, if_match: str | None) -> Versioned:
        changes = body.model_dump(exclude_unset=True)
        _, saved = await self.store.replace(
            task_id, if_match, lambda task: touched(task, utcnow(), **changes)
        )
        return saved

    async def set_status(self, task_id: str, status: TaskStatus, if_match: str | None) -> Versioned:
        before, saved = await self.store.replace(
            task_id, if_match, lambda task: touched(task, utcnow(), status=status)
        )
        event = events.status_changed(before, saved.task, saved.task.updated_at)
        await self._announce(event, f"task {task_id} status was set to {status}")
        return saved

    async def delete(self, task_id: str, if_match: str | None) -> None:
        task = await self.store.remove(task_id, if_match)
        await self._announce(events.deleted(task, utcnow()), f"task {task_id} was deleted")

    async def list(self, cursor: str | None, limit: int | None) -> TaskPage:
        size = min(limit or self._settings.page_size_default, self._settings.page_size_max)
        position = parse_cursor(cursor)
        # One snapshot of the index per page: keyset paging keeps pages consistent across
        # snapshots (see taskapi.index).
        index = await self.store.index()
        items: list[Task] = []
        while len(items) < size:
            entries, _ = index.after(position, size - len(items))
            if not entries:
                break
            live = await self.store.live_tasks([e.task_id for e in entries])
            items.extend(live[e.task_id] for e in entries if e.task_id in live)
            position = entries[-1].seq
        more, _ = index.after(position, 1)
        return TaskPage(items=items, next_cursor=format_cursor(position if more else None),
                        limit=size)
