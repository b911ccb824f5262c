"""Keyset listing over index pages while tasks come and go (ShardedIndex on a fake store)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from fake_state import FakeState

from taskapi.index import PAGE_CAPACITY, SHARDS, Cursor, IndexPage, page_key
from taskapi.models import Task
from taskapi.shards import ShardedIndex

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class Listed:
    """Index pages on a fake state store, appended like TaskStore.create does, and which
    tasks are live (what TaskStore.live_tasks would find)."""

    def __init__(self) -> None:
        self.state = FakeState()
        self.index = ShardedIndex(self.state)
        self.live: set[str] = set()

    def page(self, key: str) -> IndexPage | None:
        stored = self.state.values.get(key)
        return IndexPage.model_validate_json(stored.data) if stored else None

    @property
    def pages(self) -> list[IndexPage]:
        return [p for k in self.state.values if (p := self.page(k)) is not None]

    def create(self, task_id: str, shard: int) -> None:
        number = 0
        while (page := self.page(page_key(shard, number))) and page.full:
            number += 1
        page = page or IndexPage(shard=shard, number=number)
        self.state.store(page_key(shard, number), page.add(task_id).model_dump_json().encode())
        self.live.add(task_id)

    async def live_tasks(self, task_ids: list[str]) -> dict[str, Task | None]:
        return {
            t: Task(id=t, title="t", created_at=NOW, updated_at=NOW)
            for t in task_ids
            if t in self.live
        }

    async def walk(self, at: Cursor, size: int, max_reads: int) -> tuple[list[Task], Cursor | None]:
        return await self.index.walk(at, size, max_reads, self.live_tasks)


def _id(n: int) -> str:
    return f"{n:032x}"


async def test_walk_lists_every_task_once_while_others_come_and_go() -> None:
    rng = random.Random(7)
    fake = Listed()
    for n in range(600):
        fake.create(_id(n), rng.randrange(SHARDS))
    stable = {_id(n) for n in range(0, 600, 2)}
    doomed = [_id(n) for n in range(1, 600, 2)]
    seen: list[str] = []
    at: Cursor | None = Cursor()
    fresh = 600
    for _ in range(10_000):
        assert at is not None
        items, at = await fake.walk(at, rng.choice([1, 7, 50]), 64)
        seen += [t.id for t in items]
        for _ in range(rng.randrange(4)):  # churn between pages
            fake.create(_id(fresh), rng.randrange(SHARDS))
            fresh += 1
            if doomed:
                fake.live.discard(doomed.pop(rng.randrange(len(doomed))))
        if at is None:
            break
    assert len(seen) == len(set(seen))
    assert stable <= set(seen)
    assert all(len(p.entries) <= PAGE_CAPACITY for p in fake.pages)


async def test_a_page_of_deleted_entries_costs_bounded_reads_and_gets_compacted() -> None:
    fake = Listed()
    for n in range(PAGE_CAPACITY * 3):
        fake.create(_id(n), 0)
    fake.live.clear()
    fake.create(_id(10_000), 0)
    items, at = await fake.walk(Cursor(), 20, max_reads=2)
    assert items == []
    assert at is not None  # more to come: the client follows the cursor
    all_items: list[Task] = []
    for _ in range(100):
        items, at = await fake.walk(at or Cursor(), 20, 64)
        all_items += items
        if at is None:
            break
    assert [t.id for t in all_items] == [_id(10_000)]
    assert sum(len(p.entries) for p in fake.pages) == 1  # dead entries compacted


async def test_an_entry_ahead_of_its_record_is_skipped_and_kept_until_the_grace_ends() -> None:
    """A create reserves its entry before its record commits: listings skip it meanwhile
    and must not compact it (the create may still commit); after the grace they do."""
    fake = Listed()
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    clock = [now]
    fake.index = ShardedIndex(fake.state, grace_seconds=600, clock=lambda: clock[0])
    page = IndexPage(shard=0, number=0).add(_id(1), at=now).add(_id(2), at=now)
    fake.state.store(page_key(0, 0), page.model_dump_json().encode())
    fake.live.add(_id(2))  # 1 is still committing, 2 has its record

    items, _ = await fake.walk(Cursor(), 10, 64)
    assert [t.id for t in items] == [_id(2)]
    assert {e.task_id for e in fake.pages[0].entries} == {_id(1), _id(2)}

    clock[0] = now + timedelta(seconds=601)  # 1's create failed long ago
    items, _ = await fake.walk(Cursor(), 10, 64)
    assert [t.id for t in items] == [_id(2)]
    assert {e.task_id for e in fake.pages[0].entries} == {_id(2)}
