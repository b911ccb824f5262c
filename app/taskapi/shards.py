"""The sharded task index on a StateStore: where a create's entry goes (allocation), the
keyset walk a listing makes, and the compaction of entries whose task is gone.

The pages and cursors themselves are pure (taskapi.index, which states the guarantees);
this class owns the reads and writes of them, and this process's memory of which page
each shard appends to.

A create RESERVES its entry (a plain write of the page under its version) before it
commits the task record and event in a transaction of their own: pages are storage, and a
transaction's outbox would publish every value it writes on the public topic. Listing stays
exact because a task is listed only once its record exists: an entry ahead of its record is
skipped, and compacted only when it is older than ``grace_seconds`` (its create then failed
long ago: a commit is bounded by the Dapr call timeout, far below the grace), so compaction
never removes the entry of a create still committing.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

from taskapi.errors import DaprUnavailableError, EtagConflictError, TaskApiError
from taskapi.index import (
    PAGE_CAPACITY,
    SHARDS,
    Cursor,
    HeadHint,
    IndexPage,
    head_key,
    page_key,
)
from taskapi.models import Task, utcnow
from taskapi.statestore import StateStore, Versioned, encode

log = logging.getLogger(__name__)

# Bound on walking a shard's chain to its newest page (from the head hint).
MAX_PAGE_STEPS = 1000
# Slots left on a page when its successor is created in the background (see appended).
PREPARE_AHEAD = 16
# Pages read per sidecar call by a listing: the page a walk needs plus the ones it will
# probably need next (the next page of the shard, the first pages of the next shards).
PREFETCH = 8

# Which of the listed ids have a record: the Task when live, None when deleted (tombstone);
# ids without a record are left out.
Lookup = Callable[[list[str]], Awaitable[dict[str, Task | None]]]


def _ahead(at: Cursor) -> list[Cursor]:
    candidates = [Cursor(at.shard, at.page), Cursor(at.shard, at.page + 1)]
    candidates += [Cursor(s, 0) for s in range(at.shard + 1, SHARDS)]
    return candidates[:PREFETCH]


class ShardedIndex:
    def __init__(
        self,
        state: StateStore,
        *,
        grace_seconds: float = 3600,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._state = state
        self._grace = timedelta(seconds=grace_seconds)
        self._clock = clock
        # Per-process: which page each shard appends to, and one create per shard at a
        # time, so this process's creates never conflict with each other on a page.
        self._newest: list[int | None] = [None] * SHARDS
        self._locks = [asyncio.Lock() for _ in range(SHARDS)]
        # (shard, page) this process has created ahead, and the background writes running.
        self._prepared: set[tuple[int, int]] = set()
        self._jobs: set[asyncio.Task[None]] = set()

    # -- allocation -----------------------------------------------------------------------

    def pick_shard(self) -> int:
        """A shard no create of this process is writing right now, so concurrent creates
        neither queue on a lock nor conflict on a page; random among those."""
        free = [n for n, lock in enumerate(self._locks) if not lock.locked()]
        return random.choice(free or range(SHARDS))  # noqa: S311 - load spreading

    def lock(self, shard: int) -> asyncio.Lock:
        return self._locks[shard]

    async def reserve(self, shard: int, task_id: str) -> IndexPage:
        """List ``task_id`` on the shard's newest page, ahead of its record (see the module
        doc), under the page's version: a concurrent append raises EtagConflictError, and
        the caller retries. A retry that finds its entry already there writes nothing."""
        page, version = await self._open_page(shard)
        if not page.has(task_id):
            appended = page.add(task_id, at=self._clock())
            await self._state.put(page_key(shard, page.number), encode(appended), version)
            page = appended
        self.appended(page)
        return page

    def appended(self, page: IndexPage) -> None:
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
        """Run ``work`` without holding up the request; failures only cost a later create."""

        async def logged() -> None:
            try:
                await work
            except TaskApiError as exc:
                log.info("Background index write skipped what=%r reason=%s", what, exc)

        job = asyncio.create_task(logged())
        self._jobs.add(job)
        job.add_done_callback(self._jobs.discard)

    async def _ensure_page(self, shard: int, number: int, *, absent: bool = False) -> None:
        """Create page ``number`` of ``shard`` empty unless it exists.

        Outside transactions and first-write, so that a transaction always writes a page
        that exists: Dapr checks no ETag on a missing key, and two creates could otherwise
        both "create" the page and lose an entry. (A page once written first-write keeps
        Redis's first-write flag, so this can never overwrite a page that has entries.)
        """
        key = page_key(shard, number)
        if not absent and await self._state.get(key) is not None:
            return
        try:
            await self._state.put(key, encode(IndexPage(shard=shard, number=number)), None)
        except (EtagConflictError, DaprUnavailableError):
            if await self._state.get(key) is None:
                raise

    async def _open_page(self, shard: int) -> tuple[IndexPage, str]:
        """The shard's newest page with room, and its version (created if missing)."""
        number = self._newest[shard]
        # The head hint is read once per walk: first thing in a new process, and when the
        # page this process appended to has filled up (other replicas, or a restore, may have
        # filled many pages since: jumping to the hint keeps the walk short).
        hinted = number is None
        if number is None:
            number = await self._head(shard)
        for _ in range(MAX_PAGE_STEPS):
            stored = await self._state.get(page_key(shard, number))
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
                return page, stored.version
            number += 1
            if not hinted:
                hinted = True
                number = max(number, await self._head(shard))
        raise DaprUnavailableError(
            f"index shard {shard} has more than {MAX_PAGE_STEPS} pages "
            f"of {PAGE_CAPACITY} after its head hint"
        )

    async def _head(self, shard: int) -> int:
        hint = await self._state.get(head_key(shard))
        return HeadHint.model_validate_json(hint.data).page if hint else 0

    async def _advance_head(self, shard: int, number: int) -> None:
        """Move the shard's head hint up to ``number``, never back.

        Other processes (or a restore) may have moved it further meanwhile: a hint moved
        back would make every new walk read each page in between.
        """
        key = head_key(shard)
        stored = await self._state.get(key)
        if stored is not None and HeadHint.model_validate_json(stored.data).page >= number:
            return
        await self._state.put(
            key, encode(HeadHint(page=number)), stored.version if stored else None
        )

    # -- walk -----------------------------------------------------------------------------

    async def walk(
        self, at: Cursor, size: int, max_reads: int, live: Lookup
    ) -> tuple[list[Task], Cursor | None]:
        """Up to ``size`` live tasks after ``at``, and where to continue (None: complete).

        ``live`` looks up the records of the listed ids. At most ``max_reads`` page reads,
        so a stretch of emptied pages costs a short page with a cursor, never an unbounded
        request.
        """
        items: list[Task] = []
        known: dict[str, Versioned | None] = {}
        for _ in range(max_reads):
            if at.done:
                return items, None
            key = page_key(at.shard, at.page)
            if key not in known:
                wanted = [page_key(c.shard, c.page) for c in _ahead(at)]
                found = await self._state.get_many(wanted)
                known.update({k: found.get(k) for k in wanted})
            stored = known[key]
            page = IndexPage.model_validate_json(stored.data) if stored else None
            if page is None:
                at = at.next_shard()  # past the shard's last page
                continue
            entries = page.after(at.seq)[: size - len(items)]
            if entries:
                records = await live([e.task_id for e in entries])
                items += [t for e in entries if (t := records.get(e.task_id)) is not None]
                old = self._clock() - self._grace
                dead = {
                    e.task_id
                    for e in entries
                    if (e.task_id in records and records[e.task_id] is None)  # deleted
                    or (e.task_id not in records and (e.at is None or e.at < old))  # failed
                }
                if dead:
                    await self.compact(key, dead)
                at = Cursor(at.shard, at.page, entries[-1].seq)
            if len(page.after(at.seq)) == 0:
                # A full page never changes order again: go on to the next one. The newest
                # page of a shard may still grow, but tasks created after the cursor passed
                # may be left out, so the walk moves on to the next shard.
                at = at.next_page() if page.full else at.next_shard()
            if len(items) >= size:
                return items, at
        return items, at

    # -- compaction -----------------------------------------------------------------------

    async def compact(self, key: str, dead: set[str]) -> None:
        """Drop entries of tasks that no longer exist (ids are never reused).

        A plain write under the page's version, outside any transaction, so it publishes
        nothing; losing a race only leaves the entries for the next listing.
        """
        stored = await self._state.get(key)
        if stored is None:
            return
        page = IndexPage.model_validate_json(stored.data)
        if not any(e.task_id in dead for e in page.entries):
            return
        try:
            await self._state.put(key, encode(page.without(dead)), stored.version)
        except TaskApiError as exc:
            log.info("Index page compaction skipped key=%s reason=%s", key, exc)
