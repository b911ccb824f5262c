"""Persistence of tasks in the Dapr state store: task documents, tombstones and the index."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, TypeAdapter

from taskapi import documents, etags
from taskapi.dapr_io import DaprIO, Stored
from taskapi.errors import (
    ConflictRetriesExhaustedError,
    EtagConflictError,
    PreconditionFailedError,
    TaskNotFoundError,
)
from taskapi.index import TaskIndex
from taskapi.models import Task, TaskActivity
from taskapi.settings import Settings

log = logging.getLogger(__name__)

TASK_PREFIX = "task:"
ACTIVITY_PREFIX = "activity:"
INDEX_KEY = "task-index"


class Tombstone(BaseModel):
    """What a deleted task's key holds for a while: a racing update finds it and gets 404."""

    id: str
    deleted: Literal[True]


_record: TypeAdapter[Tombstone | Task] = TypeAdapter(Tombstone | Task)


@dataclass(frozen=True)
class Versioned:
    task: Task
    # None when the store already moved past this version (a racing writer): no ETag then.
    etag: str | None


def task_key(task_id: str) -> str:
    return f"{TASK_PREFIX}{task_id}"


def activity_key(task_id: str) -> str:
    return f"{ACTIVITY_PREFIX}{task_id}"


def _live(stored: Stored | None, task_id: str) -> Task:
    record = _record.validate_json(stored.data) if stored else None
    if not isinstance(record, Task):
        raise TaskNotFoundError(task_id)
    return record


class TaskStore:
    def __init__(self, io: DaprIO, settings: Settings) -> None:
        self._io = io
        self._settings = settings

    async def get(self, task_id: str) -> Versioned:
        stored = await self._io.get(task_key(task_id))
        task = _live(stored, task_id)
        assert stored is not None
        return Versioned(task, stored.etag)

    async def insert(self, task: Task) -> Versioned:
        await self._io.put(task_key(task.id), task.model_dump_json(), etag=None)
        try:
            await documents.mutate(self._io, self._settings, INDEX_KEY, model=TaskIndex,
                                   change=lambda index: (index or TaskIndex()).add(task.id))
        except Exception:
            # Unlisted tasks must not linger: undo the document, then report the failure.
            try:
                await self._io.delete(task_key(task.id), etag=None)
            except Exception:  # the original error is the one to report
                log.exception("could not remove task %s after its index update failed", task.id)
            raise
        return await self._confirm(task)

    async def replace(
        self, task_id: str, if_match: str | None, change: Callable[[Task], Task]
    ) -> tuple[Task, Versioned]:
        """Apply `change` under the task's ETag: 412 when If-Match is stale, else retried."""
        for attempt in range(self._settings.conflict_retries):
            current = await self.get(task_id)
            assert current.etag is not None
            if not etags.matches(if_match, current.etag):
                raise PreconditionFailedError(task_id, str(if_match), current.etag)
            after = change(current.task)
            try:
                await self._io.put(task_key(task_id), after.model_dump_json(), current.etag)
            except EtagConflictError:
                if if_match not in (None, etags.ANY):
                    raise PreconditionFailedError(task_id, str(if_match), "(changed)") from None
                await documents.backoff(self._settings, attempt)
                continue
            return current.task, await self._confirm(after)
        raise ConflictRetriesExhaustedError(task_key(task_id),
                                                      self._settings.conflict_retries)

    async def remove(self, task_id: str, if_match: str | None) -> Task:
        tombstone = Tombstone(id=task_id, deleted=True)
        for attempt in range(self._settings.conflict_retries):
            current = await self.get(task_id)
            assert current.etag is not None
            if not etags.matches(if_match, current.etag):
                raise PreconditionFailedError(task_id, str(if_match), current.etag)
            try:
                await self._io.put(task_key(task_id), tombstone.model_dump_json(), current.etag,
                                   ttl_seconds=self._settings.tombstone_ttl_seconds)
            except EtagConflictError:
                if if_match not in (None, etags.ANY):
                    raise PreconditionFailedError(task_id, str(if_match), "(changed)") from None
                await documents.backoff(self._settings, attempt)
                continue
            await self._unlist(task_id)
            return current.task
        raise ConflictRetriesExhaustedError(task_key(task_id),
                                                      self._settings.conflict_retries)

    async def _unlist(self, task_id: str) -> None:
        try:
            await documents.mutate(self._io, self._settings, INDEX_KEY, model=TaskIndex,
                                   change=lambda index: index.remove(task_id) if index else None)
        except Exception:
            # The task is already a tombstone, which listing skips: a stale entry is harmless.
            log.exception("task %s deleted but still in the index", task_id)

    async def _confirm(self, written: Task) -> Versioned:
        """The ETag of exactly the version written, or None if another writer got in first."""
        stored = await self._io.get(task_key(written.id))
        record = _record.validate_json(stored.data) if stored else None
        if isinstance(record, Task) and record.revision == written.revision and stored:
            return Versioned(written, stored.etag)
        return Versioned(written, None)

    async def index(self) -> TaskIndex:
        stored = await self._io.get(INDEX_KEY)
        return TaskIndex.model_validate_json(stored.data) if stored else TaskIndex()

    async def live_tasks(self, task_ids: list[str]) -> dict[str, Task]:
        found = await self._io.get_many([task_key(t) for t in task_ids])
        tasks: dict[str, Task] = {}
        for task_id in task_ids:
            stored = found.get(task_key(task_id))
            record = _record.validate_json(stored.data) if stored else None
            if isinstance(record, Task):
                tasks[task_id] = record
        return tasks

    # -- what the subscription processed (dedup record + observable effect) ---------------

    async def activity(self, task_id: str) -> TaskActivity | None:
        stored = await self._io.get(activity_key(task_id))
        return TaskActivity.model_validate_json(stored.data) if stored else None

    async def record_activity(
        self, task_id: str, change: Callable[[TaskActivity | None], TaskActivity | None],
        expire: bool,
    ) -> None:
        ttl = self._settings.tombstone_ttl_seconds if expire else None
        await documents.mutate(self._io, self._settings, activity_key(task_id),
                               model=TaskActivity, change=change, ttl_seconds=ttl)


def touched(task: Task, now: datetime, **changes: object) -> Task:
    """A new version of `task`: the changes, a later updated_at, the next revision."""
    return task.model_copy(
        update={**changes, "updated_at": now, "revision": task.revision + 1}
    )
