"""Keyset listing over the sharded index pages (see taskapi.index for the guarantees)."""

import logging

from taskapi.dapr_io import Stored
from taskapi.index import SHARDS, Cursor, IndexPage, page_key
from taskapi.models import Task
from taskapi.store import TaskStore

log = logging.getLogger(__name__)

# Pages read per sidecar call: the page a walk needs plus the ones it will probably need
# next (the next page of the shard, the first pages of the next shards).
PREFETCH = 8


def _ahead(at: Cursor) -> list[Cursor]:
    candidates = [Cursor(at.shard, at.page), Cursor(at.shard, at.page + 1)]
    candidates += [Cursor(s, 0) for s in range(at.shard + 1, SHARDS)]
    return candidates[:PREFETCH]


async def page_of_tasks(
    store: TaskStore,
    at: Cursor,
    size: int,
    max_reads: int,
) -> tuple[list[Task], Cursor | None]:
    """Up to `size` live tasks after `at`, and where to continue (None: listing complete).

    At most `max_reads` page reads, so a stretch of emptied pages costs a short page with
    a cursor, never an unbounded request.
    """
    items: list[Task] = []
    known: dict[str, Stored | None] = {}
    for _ in range(max_reads):
        if at.done:
            return items, None
        key = page_key(at.shard, at.page)
        if key not in known:
            wanted = [page_key(c.shard, c.page) for c in _ahead(at)]
            found = await store.pages(wanted)
            known.update({k: found.get(k) for k in wanted})
        stored = known[key]
        page = IndexPage.model_validate_json(stored.data) if stored else None
        if page is None:
            at = at.next_shard()  # past the shard's last page
            continue
        entries = page.after(at.seq)[: size - len(items)]
        if entries:
            live = await store.live_tasks([e.task_id for e in entries])
            items += [live[e.task_id] for e in entries if e.task_id in live]
            dead = {e.task_id for e in entries} - live.keys()
            if dead:
                await store.compact(key, dead)
            at = Cursor(at.shard, at.page, entries[-1].seq)
        if len(page.after(at.seq)) == 0:
            # A full page never changes order again: go on to the next one. The newest page
            # of a shard may still grow, but tasks created after the cursor passed may be
            # left out, so the walk moves on to the next shard.
            at = at.next_page() if page.full else at.next_shard()
        if len(items) >= size:
            return items, at
    return items, at
