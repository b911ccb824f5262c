"""Task records on a StateStore: every change is ONE transaction (record + index + event).

The event rides the transactional outbox (taskapi.statestore.Announce), so it is published
exactly when the change commits. Writes are optimistic (store versions); the one retry loop
(taskapi.conflicts) re-reads and re-applies a change when another writer got in first.
Callers get tasks, never store versions: a task's HTTP ETag is its revision.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pydantic import ValidationError

from taskapi import etags
from taskapi.conflicts import retrying
from taskapi.errors import (
    EtagConflictError,
    PreconditionFailedError,
    TaskApiError,
    TaskNotFoundError,
)
from taskapi.index import Cursor
from taskapi.models import Task, TaskEvent
from taskapi.records import TaskRecord
from taskapi.settings import Settings
from taskapi.shards import ShardedIndex
from taskapi.statestore import Announce, StateStore, Versioned, Write, encode

log = logging.getLogger(__name__)

TASK_PREFIX = "task:"


def task_key(task_id: str) -> str:
    return f"{TASK_PREFIX}{task_id}"


class CorruptRecordError(TaskApiError):
    """A stored value that does not validate: never written by this app's current code."""


def parse_record(stored: Versioned | None) -> TaskRecord | None:
    if stored is None:
        return None
    try:
        return TaskRecord.model_validate_json(stored.data)
    except ValidationError as exc:
        raise CorruptRecordError(f"stored task record does not validate: {exc}") from exc


Change = Callable[[Task], tuple[Task, TaskEvent | None]]


class TaskStore:
    def __init__(self, state: StateStore, index: ShardedIndex, settings: Settings) -> None:
        self._state = state
        self._index = index
        self._settings = settings

    # -- reads ----------------------------------------------------------------------------

    async def _found(self, task_id: str) -> tuple[TaskRecord, str] | None:
        stored = await self._state.get(task_key(task_id))
        record = parse_record(stored)
        if record is None or stored is None:
            return None
        return record, stored.version

    async def record(self, task_id: str) -> TaskRecord | None:
        found = await self._found(task_id)
        return found[0] if found else None

    async def get(self, task_id: str) -> Task:
        found = await self._found(task_id)
        if found is None or found[0].deleted:
            raise TaskNotFoundError(task_id)
        return found[0].task

    async def live_tasks(self, task_ids: list[str]) -> dict[str, Task]:
        found = await self._state.get_many([task_key(t) for t in task_ids])
        tasks: dict[str, Task] = {}
        for task_id in task_ids:
            record = parse_record(found.get(task_key(task_id)))
            if record is not None and not record.deleted:
                tasks[task_id] = record.task
        return tasks

    async def page(self, at: Cursor, size: int) -> tuple[list[Task], Cursor | None]:
        """Up to ``size`` live tasks after ``at`` in index order (see ShardedIndex.walk)."""
        max_reads = self._settings.list_max_page_reads
        return await self._index.walk(at, size, max_reads, self.live_tasks)

    # -- writes ---------------------------------------------------------------------------

    async def create(self, task: Task, event: TaskEvent) -> Task:
        """Store ``task`` with its index entry and its event, all in one transaction."""
        record = TaskRecord.first(task, event.event_id)
        shard = self._index.pick_shard()
        key = task_key(task.id)

        async def attempt() -> Task:
            entry, page = await self._index.entry(shard, task.id)
            await self._state.transact(
                [entry, Write(key, encode(record))], Announce(key, encode(event))
            )
            self._index.appended(page)
            return task

        async with self._index.lock(shard):
            try:
                return await retrying(self._settings, f"index shard {shard}", attempt)
            except TaskApiError:
                # On Redis a rejected transaction may have stored the record anyway: remove
                # it, so no task exists that no listing shows (its event is then a phantom).
                await self._forget(task.id)
                raise

    async def change(
        self, task_id: str, if_match: str | None, change: Change, *, delete: bool = False
    ) -> tuple[Task, Task]:
        """Apply ``change`` to the live task under its store version, retried on conflict.

        Returns (before, after). If-Match names a revision: a stale one is 412, and so is a
        conflict with a writer that got in after the client's read.
        """
        key = task_key(task_id)

        async def attempt() -> tuple[Task, Task]:
            found = await self._found(task_id)
            if found is None or found[0].deleted:
                raise TaskNotFoundError(task_id)
            current, version = found
            if not etags.matches(if_match, current.task.revision):
                raise PreconditionFailedError(
                    task_id, str(if_match), etags.to_header(current.task.revision)
                )
            after, event = change(current.task)
            if event is None and after == current.task:
                return current.task, after
            ttl = self._settings.tombstone_ttl_seconds if delete else None
            try:
                if event is None:
                    # No event: a plain write under the version. A transaction would not do:
                    # the outbox publishes every value a transaction writes.
                    record = current.model_copy(update={"task": after})
                    await self._state.put(key, encode(record), version)
                else:
                    record = current.wrote(after, event.event_id, deleted=delete)
                    write = Write(key, encode(record), version=version, ttl_seconds=ttl)
                    await self._state.transact([write], Announce(key, encode(event)))
            except EtagConflictError:
                if if_match not in (None, etags.ANY):
                    raise PreconditionFailedError(task_id, str(if_match), "(changed)") from None
                raise
            return current.task, after

        return await retrying(self._settings, key, attempt)

    async def _forget(self, task_id: str) -> None:
        try:
            await self._state.delete(task_key(task_id), None)
        except TaskApiError:  # the original error is the one to report
            log.exception("Could not remove unlisted task record task=%s", task_id)
