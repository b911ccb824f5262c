"""Persistence of tasks: every change is ONE Dapr state transaction (record + index + event).

The event rides the transactional outbox (an `outbox.projection` operation), so it is
published exactly when the change commits. Writes are optimistic (store ETags); the one
retry loop here re-reads and re-applies a change when another writer got in first.
"""

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from pydantic import ValidationError

from taskapi import etags
from taskapi.dapr_io import OUTBOX_METADATA, DaprIO, Stored, Write
from taskapi.errors import (
    ConflictRetriesExhaustedError,
    DaprUnavailableError,
    EtagConflictError,
    PreconditionFailedError,
    TaskApiError,
    TaskNotFoundError,
)
from taskapi.index import (
    PAGE_CAPACITY,
    SHARDS,
    HeadHint,
    IndexPage,
    head_key,
    page_key,
)
from taskapi.models import Task, TaskActivity, TaskEvent
from taskapi.records import TaskRecord
from taskapi.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

TASK_PREFIX = "task:"
ACTIVITY_PREFIX = "activity:"
# Bound on walking a shard's chain to its newest page (from the head hint).
MAX_PAGE_STEPS = 1000
# Slots left on a page when its successor is created in the background (see _appended).
PREPARE_AHEAD = 16


def task_key(task_id: str) -> str:
    return f"{TASK_PREFIX}{task_id}"


def activity_key(task_id: str) -> str:
    return f"{ACTIVITY_PREFIX}{task_id}"


class CorruptRecordError(TaskApiError):
    """A stored value that does not validate: never written by this app's current code."""


def parse_record(stored: Stored | None) -> TaskRecord | None:
    if stored is None:
        return None
    try:
        return TaskRecord.model_validate_json(stored.data)
    except ValidationError as exc:
        raise CorruptRecordError(f"stored task record does not validate: {exc}") from exc


def _bytes(model: TaskRecord | IndexPage | TaskEvent | HeadHint | TaskActivity) -> bytes:
    # Validating on the way out too: nothing is stored that cannot be read back.
    type(model).model_validate_json(raw := model.model_dump_json())
    return raw.encode()


class TaskStore:
    def __init__(self, io: DaprIO, settings: Settings) -> None:
        self._io = io
        self._settings = settings
        # Per-process: which page each shard appends to, and one create per shard at a
        # time, so this process's creates never conflict with each other on a page.
        self._newest: list[int | None] = [None] * SHARDS
        self._locks = [asyncio.Lock() for _ in range(SHARDS)]
        # (shard, page) this process has created ahead, and the background writes running.
        self._prepared: set[tuple[int, int]] = set()
        self._jobs: set[asyncio.Task[None]] = set()

    # -- the one retry loop ---------------------------------------------------------------

    async def _retrying(self, what: str, attempt: Callable[[], Awaitable[T]]) -> T:
        retries = self._settings.conflict_retries
        for n in range(retries):
            try:
                return await attempt()
            except EtagConflictError:
                # Jitter spreads out writers that collided, so the retries do not collide again.
                base = self._settings.conflict_backoff_seconds * min(n + 1, 10)
                await asyncio.sleep(base * (0.5 + random.random()))  # noqa: S311 - not crypto
        raise ConflictRetriesExhaustedError(what, retries)

    # -- reads ----------------------------------------------------------------------------

    async def record(self, task_id: str) -> tuple[TaskRecord, str] | None:
        stored = await self._io.get(task_key(task_id))
        record = parse_record(stored)
        if record is None or stored is None:
            return None
        return record, stored.etag

    async def get(self, task_id: str) -> Task:
        found = await self.record(task_id)
        if found is None or found[0].deleted:
            raise TaskNotFoundError(task_id)
        return found[0].task

    async def live_tasks(self, task_ids: list[str]) -> dict[str, Task]:
        found = await self._io.get_many([task_key(t) for t in task_ids])
        tasks: dict[str, Task] = {}
        for task_id in task_ids:
            record = parse_record(found.get(task_key(task_id)))
            if record is not None and not record.deleted:
                tasks[task_id] = record.task
        return tasks

    async def pages(self, keys: list[str]) -> dict[str, Stored]:
        """Index pages as stored (parsed by the caller, only those it uses)."""
        return await self._io.get_many(keys)

    # -- writes ---------------------------------------------------------------------------

    async def create(self, task: Task, event: TaskEvent) -> Task:
        """Store `task` with its index entry and its event, all in one transaction."""
        record = TaskRecord.first(task, event.event_id)
        # A shard no create of this process is writing right now, so concurrent creates
        # neither queue on a lock nor conflict on a page; random among those.
        free = [n for n, lock in enumerate(self._locks) if not lock.locked()]
        shard = random.choice(free or range(SHARDS))  # noqa: S311 - load spreading

        async def attempt() -> Task:
            page, etag = await self._open_page(shard)
            if page.has(task.id):
                # An earlier attempt's page write stuck although its transaction failed:
                # Redis applied part of it. Not a race to retry: the store refuses the rest.
                raise DaprUnavailableError(
                    f"state store {self._settings.state_store!r} applied only part of a "
                    "transaction; check that it has the outbox metadata "
                    f"({', '.join(OUTBOX_METADATA)})"
                )
            # The projection directly BEFORE its write: daprd 1.17 removes projections from
            # the list while iterating over it, which leaves this order intact; and on a
            # store without the outbox metadata daprd writes a projection as a plain value,
            # which the real write after it then replaces. (A second projection, to publish
            # a marker instead of the page, would break the page's ETag check there.)
            appended = page.add(task.id)
            await self._io.transact(
                [
                    Write(page_key(shard, page.number), _bytes(appended), etag=etag),
                    Write(task_key(task.id), _bytes(event), projection=True),
                    Write(task_key(task.id), _bytes(record)),
                ]
            )
            self._appended(appended)
            return task

        async with self._locks[shard]:
            try:
                return await self._retrying(f"index shard {shard}", attempt)
            except TaskApiError:
                # On Redis a rejected transaction may have stored the record anyway: remove
                # it, so no task exists that no listing shows (its event is then a phantom).
                await self._forget(task.id)
                raise

    async def change(
        self,
        task_id: str,
        if_match: str | None,
        change: Callable[[Task], tuple[Task, TaskEvent | None]],
        *,
        delete: bool = False,
    ) -> tuple[Task, Task]:
        """Apply `change` to the live task under its store ETag, retried on conflict.

        Returns (before, after). If-Match names a revision: a stale one is 412, and so is a
        conflict with a writer that got in after the client's read.
        """

        async def attempt() -> tuple[Task, Task]:
            found = await self.record(task_id)
            if found is None or found[0].deleted:
                raise TaskNotFoundError(task_id)
            current, etag = found
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
                    # No event: a plain write under the ETag. A transaction would not do:
                    # the outbox publishes every value a transaction writes.
                    record = current.model_copy(update={"task": after})
                    await self._io.put(task_key(task_id), _bytes(record).decode(), etag=etag)
                else:
                    record = current.wrote(after, event.event_id, deleted=delete)
                    await self._io.transact(
                        [  # projection first: see create()
                            Write(task_key(task_id), _bytes(event), projection=True),
                            Write(task_key(task_id), _bytes(record), etag=etag, ttl_seconds=ttl),
                        ]
                    )
            except EtagConflictError:
                if if_match not in (None, etags.ANY):
                    raise PreconditionFailedError(task_id, str(if_match), "(changed)") from None
                raise
            return current.task, after

        return await self._retrying(task_key(task_id), attempt)

    def _appended(self, page: IndexPage) -> None:
        """After a create: keep the shard's next page ready before this one fills up.

        Creating a page costs round trips (a first write, then the head hint); done by the
        create that found its page full, that cost landed in the slowest creates. The next
        page is created in the background while PREPARE_AHEAD slots are left, and the create
        that fills a page moves this process on to the next one. The head hint moves only
        once the page is full: a new process must never skip a page with room, because a
        listing walk ends a shard at its first page that is not full.
        """
        following = page.number + 1
        if page.full:
            self._newest[page.shard] = following
            self._prepared.discard((page.shard, following))  # stays one entry per shard
            self._background(
                self._advance_head(page.shard, following), f"head hint of index shard {page.shard}"
            )
        elif (
            PAGE_CAPACITY + 1 - page.next_seq <= PREPARE_AHEAD
            and (page.shard, following) not in self._prepared
        ):
            self._prepared.add((page.shard, following))
            self._background(
                self._ensure_page(page.shard, following),
                f"index page {page_key(page.shard, following)}",
            )

    def _background(self, work: Coroutine[Any, Any, None], what: str) -> None:
        """Run `work` without holding up the request; failures only cost a later create."""

        async def logged() -> None:
            try:
                await work
            except TaskApiError as exc:
                log.info("Background index write skipped what=%r reason=%s", what, exc)

        job = asyncio.create_task(logged())
        self._jobs.add(job)
        job.add_done_callback(self._jobs.discard)

    async def _ensure_page(self, shard: int, number: int, *, absent: bool = False) -> None:
        """Create page `number` of `shard` empty unless it exists.

        Outside transactions and first-write, so that a transaction always writes a page
        that exists: Dapr checks no ETag on a missing key, and two creates could otherwise
        both "create" the page and lose an entry. (A page once written first-write keeps
        Redis's first-write flag, so this can never overwrite a page that has entries.)
        """
        key = page_key(shard, number)
        if not absent and await self._io.get(key) is not None:
            return
        try:
            await self._io.put(
                key, _bytes(IndexPage(shard=shard, number=number)).decode(), etag=None
            )
        except (EtagConflictError, DaprUnavailableError):
            if await self._io.get(key) is None:
                raise

    async def _open_page(self, shard: int) -> tuple[IndexPage, str]:
        """The shard's newest page with room, and its store ETag (created if missing)."""
        number = self._newest[shard]
        # The head hint is read once per walk: first thing in a new process, and when the
        # page this process appended to has filled up (other replicas, or a restore, may have
        # filled many pages since: jumping to the hint keeps the walk short).
        hinted = number is None
        if number is None:
            number = await self._head(shard)
        for _ in range(MAX_PAGE_STEPS):
            key = page_key(shard, number)
            stored = await self._io.get(key)
            if stored is None:  # not prepared ahead (another process filled the page)
                await self._ensure_page(shard, number, absent=True)
                if number > 0:
                    self._background(
                        self._advance_head(shard, number), f"head hint of index shard {shard}"
                    )
                continue
            page = IndexPage.model_validate_json(stored.data)
            if not page.full:
                self._newest[shard] = number
                return page, stored.etag
            number += 1
            if not hinted:
                hinted = True
                number = max(number, await self._head(shard))
        raise DaprUnavailableError(
            f"index shard {shard} has more than {MAX_PAGE_STEPS} pages "
            f"of {PAGE_CAPACITY} after its head hint"
        )

    async def _head(self, shard: int) -> int:
        hint = await self._io.get(head_key(shard))
        return HeadHint.model_validate_json(hint.data).page if hint else 0

    async def _advance_head(self, shard: int, number: int) -> None:
        """Move the shard's head hint up to `number`, never back.

        Other processes (or a restore) may have moved it further meanwhile: a hint moved
        back would make every new walk read each page in between.
        """
        key = head_key(shard)
        stored = await self._io.get(key)
        if stored is not None and HeadHint.model_validate_json(stored.data).page >= number:
            return
        await self._io.put(
            key, _bytes(HeadHint(page=number)).decode(), etag=stored.etag if stored else None
        )

    async def _forget(self, task_id: str) -> None:
        try:
            await self._io.delete(task_key(task_id), etag=None)
        except TaskApiError:  # the original error is the one to report
            log.exception("Could not remove unlisted task record task=%s", task_id)

    async def compact(self, key: str, dead: set[str]) -> None:
        """Drop index entries of tasks that no longer exist (ids are never reused).

        A plain write under the page's ETag, outside any transaction, so it publishes
        nothing; losing a race only leaves the entries for the next listing.
        """
        stored = await self._io.get(key)
        if stored is None:
            return
        page = IndexPage.model_validate_json(stored.data)
        if not any(e.task_id in dead for e in page.entries):
            return
        try:
            await self._io.put(key, _bytes(page.without(dead)).decode(), etag=stored.etag)
        except TaskApiError as exc:
            log.info("Index page compaction skipped key=%s reason=%s", key, exc)

    # -- what the subscription processed (dedup record + observable effect) ---------------

    async def seen(self, task_id: str) -> tuple[Stored | None, TaskRecord | None]:
        """What the subscription recorded for a task (raw, with its ETag) and the task's
        record: one call for both."""
        keys = [activity_key(task_id), task_key(task_id)]
        found = await self._io.get_many(keys)
        return found.get(keys[0]), parse_record(found.get(keys[1]))

    async def activity(self, task_id: str) -> TaskActivity | None:
        return parse_activity(await self._io.get(activity_key(task_id)))

    async def record_activity(
        self,
        task_id: str,
        change: Callable[[TaskActivity | None], TaskActivity | None],
        expire: bool,
        known: Stored | None = None,
    ) -> None:
        """Apply `change` to the task's activity; `known` (from seen()) saves the first read."""
        key = activity_key(task_id)
        ttl = self._settings.tombstone_ttl_seconds if expire else None
        first: list[Stored | None] = [known]

        async def attempt() -> None:
            stored = first.pop() if first else await self._io.get(key)
            current = parse_activity(stored)
            new = change(current)
            if new is None or new == current:
                return
            try:
                await self._io.put(
                    key, _bytes(new).decode(), stored.etag if stored else None, ttl_seconds=ttl
                )
            except DaprUnavailableError:
                # A refused first write surfaces as a plain store error: it is a conflict
                # exactly when another writer created the document meanwhile.
                if stored is not None or await self._io.get(key) is None:
                    raise
                raise EtagConflictError(key) from None

        await self._retrying(key, attempt)


def parse_activity(stored: Stored | None) -> TaskActivity | None:
    return TaskActivity.model_validate_json(stored.data) if stored else None
