"""Task records on a StateStore: every change is ONE transaction (record + event).

The event rides the transactional outbox (taskapi.statestore.Announce), so it is published
exactly when the change commits. A create first reserves its index entry (taskapi.shards:
pages are storage and stay off the public topic), which listings skip until the record
exists. Writes are optimistic (store versions); the one retry loop (taskapi.conflicts)
re-reads and re-applies a change when another writer got in first. Callers get tasks,
never store versions: a task's HTTP ETag is its revision.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pydantic import ValidationError

from taskapi import etags
from taskapi.conflicts import retrying
from taskapi.errors import (
    DaprUnavailableError,
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
from taskapi.statestore import OUTBOX_METADATA, Announce, StateStore, Versioned, Write, encode

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

    async def lookup(self, task_ids: list[str]) -> dict[str, Task | None]:
        """The ids that have a record: their task, or None for a deleted one (one read)."""
        found = await self._state.get_many([task_key(t) for t in task_ids])
        tasks: dict[str, Task | None] = {}
        for task_id in task_ids:
            record = parse_record(found.get(task_key(task_id)))
            if record is not None:
                tasks[task_id] = None if record.deleted else record.task
        return tasks

    async def page(self, at: Cursor, size: int) -> tuple[list[Task], Cursor | None]:
        """Up to ``size`` live tasks after ``at`` in index order (see ShardedIndex.walk)."""
        max_reads = self._settings.list_max_page_reads
        return await self._index.walk(at, size, max_reads, self.lookup)

    # -- writes ---------------------------------------------------------------------------

    async def create(self, task: Task, event: TaskEvent) -> Task:
        """Reserve ``task``'s index entry, then store it with its event in one transaction.

        The entry comes first so that a task never exists unlisted; until the transaction
        commits, listings skip the entry (no record), and a failed create leaves only that
        entry, compacted later. The transaction holds one write, so its outbox publishes
        exactly one message: the TaskEvent.
        """
        record = TaskRecord.first(task, event.event_id)
        shard = self._index.pick_shard()
        key = task_key(task.id)
        async with self._index.lock(shard):  # only the page append: the commit runs freely
            await retrying(
                self._settings,
                f"index shard {shard}",
                lambda: self._index.reserve(shard, task.id),
            )
        try:
            await self._state.transact([Write(key, encode(record))], Announce(key, encode(event)))
        except DaprUnavailableError as exc:
            raise await self._refused(task.id, exc) from exc
        return task

    async def _refused(self, task_id: str, exc: DaprUnavailableError) -> DaprUnavailableError:
        """Why a create's transaction failed, for the user, with what it left removed.

        Its one write checks no version, so it cannot have lost a race: either the store is
        down, or it refused the transaction itself, which is what a state store without the
        outbox metadata does (daprd then writes the event as a plain value). On Redis a
        refused transaction may still have stored the record: it is removed, so no task
        exists whose create answered an error (its event, if published, is a phantom).
        """
        try:
            await self._state.get(task_key(task_id))
        except TaskApiError:
            return exc  # down: nothing was applied (a late commit lands with its entry)
        await self._forget(task_id)
        return DaprUnavailableError(
            f"{exc}; the state store answers but refused the transaction: check that it has "
            f"the outbox metadata ({', '.join(OUTBOX_METADATA)})"
        )

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
