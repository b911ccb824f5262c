"""Keyset listing over index pages while tasks come and go (pure logic, a fake store)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

from taskapi import listing
from taskapi.dapr_io import Stored
from taskapi.index import PAGE_CAPACITY, SHARDS, Cursor, IndexPage, page_key
from taskapi.models import Task

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class FakeStore:
    """Index pages and live tasks in memory, appended like TaskStore.create does."""

    def __init__(self) -> None:
        self.pages: dict[str, IndexPage] = {}
        self.live: set[str] = set()
        self.reads = 0

    def create(self, task_id: str, shard: int) -> None:
        number = 0
        while (page := self.pages.get(page_key(shard, number))) and page.full:
            number += 1
        page = page or IndexPage(shard=shard, number=number)
        self.pages[page_key(shard, number)] = page.add(task_id)
        self.live.add(task_id)

    async def read_pages(self, keys: list[str]) -> dict[str, Stored]:
        self.reads += 1
        return {
            k: Stored(self.pages[k].model_dump_json().encode(), "1")
            for k in keys
            if k in self.pages
        }

    async def live_tasks(self, task_ids: list[str]) -> dict[str, Task]:
        return {
            t: Task(id=t, title="t", created_at=NOW, updated_at=NOW)
            for t in task_ids
            if t in self.live
        }

    async def compact(self, key: str, dead: set[str]) -> None:
        self.pages[key] = self.pages[key].without(dead)


class _Adapter:
    """What listing calls on a TaskStore."""

    def __init__(self, fake: FakeStore) -> None:
        self.pages = fake.read_pages
        self.live_tasks = fake.live_tasks
        self.compact = fake.compact


def _store(fake: FakeStore) -> Any:
    return _Adapter(fake)


def _id(n: int) -> str:
    return f"{n:032x}"


async def test_walk_lists_every_task_once_while_others_come_and_go() -> None:
    rng = random.Random(7)
    fake = FakeStore()
    for n in range(600):
        fake.create(_id(n), rng.randrange(SHARDS))
    stable = {_id(n) for n in range(0, 600, 2)}
    doomed = [_id(n) for n in range(1, 600, 2)]
    store = _store(fake)
    seen: list[str] = []
    at: Cursor | None = Cursor()
    fresh = 600
    for _ in range(10_000):
        assert at is not None
        items, at = await listing.page_of_tasks(store, at, rng.choice([1, 7, 50]), 64)
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
    assert all(len(p.entries) <= PAGE_CAPACITY for p in fake.pages.values())


async def test_a_page_of_deleted_entries_costs_bounded_reads_and_gets_compacted() -> None:
    fake = FakeStore()
    for n in range(PAGE_CAPACITY * 3):
        fake.create(_id(n), 0)
    fake.live.clear()
    fake.create(_id(10_000), 0)
    store = _store(fake)
    items, at = await listing.page_of_tasks(store, Cursor(), 20, max_reads=2)
    assert items == []
    assert at is not None  # more to come: the client follows the cursor
    all_items: list[Task] = []
    for _ in range(100):
        items, at = await listing.page_of_tasks(store, at or Cursor(), 20, 64)
        all_items += items
        if at is None:
            break
    assert [t.id for t in all_items] == [_id(10_000)]
    assert sum(len(p.entries) for p in fake.pages.values()) == 1  # dead entries compacted
