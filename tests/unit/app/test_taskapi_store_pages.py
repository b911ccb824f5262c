"""Which index page a create appends to, and what finding it costs (pure logic, a fake store).

A process remembers the page it appends to per shard. When other replicas (or a restore)
filled many pages since, the walk from that page must not cost one read per page: it
jumps to the shard's head hint once.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime

import pytest
from fake_state import FakeState

from taskapi import events
from taskapi.index import PAGE_CAPACITY, SHARDS, HeadHint, IndexPage, head_key, page_key
from taskapi.models import Task
from taskapi.settings import Settings
from taskapi.shards import PREPARE_AHEAD, ShardedIndex
from taskapi.tasks import TaskStore, task_key

NOW = datetime(2026, 1, 1, tzinfo=UTC)
FILLED = 50  # full pages other writers appended after this process's page


def _task(n: int) -> Task:
    return Task(id=f"{n:032x}", title="t", created_at=NOW, updated_at=NOW)


async def test_a_create_after_others_filled_many_pages_jumps_to_the_head_hint() -> None:
    sidecar = FakeState()
    index = ShardedIndex(sidecar)
    store = TaskStore(sidecar, index, Settings())
    # This process appended to page 0 of every shard, then others filled pages 0..FILLED.
    for shard in range(SHARDS):
        for number in range(FILLED + 1):
            full = _page_with(shard, number, PAGE_CAPACITY)
            sidecar.store(page_key(shard, number), full.model_dump_json().encode())
        sidecar.store(head_key(shard), HeadHint(page=FILLED).model_dump_json().encode())
    index._newest = [0] * SHARDS

    task = _task(1)
    await store.create(task, events.created(task))

    page_reads = [k for k in sidecar.gets if k.startswith("index:")]
    # own page (full), the hint, the hinted page (full), the new page: not one read per page
    assert len(page_reads) <= 5, page_reads
    shard = next(s for s in range(SHARDS) if page_key(s, FILLED + 1) in sidecar.values)
    newest = IndexPage.model_validate_json(sidecar.values[page_key(shard, FILLED + 1)].data)
    assert newest.has(task.id)
    assert task_key(task.id) in sidecar.values


def _page_with(shard: int, number: int, entries: int) -> IndexPage:
    page = IndexPage(shard=shard, number=number)
    for i in range(entries):
        page = page.add(f"f{shard:02x}{number:06x}{i:023x}")
    return page


async def _settle() -> None:
    for _ in range(10):  # let the background writes run (each awaits a few fake calls)
        await asyncio.sleep(0)


async def test_the_next_page_is_ready_before_a_page_fills_and_the_filler_moves_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(random, "choice", lambda _: 0)  # every create: shard 0
    sidecar = FakeState()
    index = ShardedIndex(sidecar)
    store = TaskStore(sidecar, index, Settings())
    start = PAGE_CAPACITY - PREPARE_AHEAD - 1
    sidecar.store(page_key(0, 0), _page_with(0, 0, start).model_dump_json().encode())
    index._newest = [0] * SHARDS

    task = _task(1)
    await store.create(task, events.created(task))  # PREPARE_AHEAD slots left now
    await _settle()
    prepared = IndexPage.model_validate_json(sidecar.values[page_key(0, 1)].data)
    assert prepared.entries == []
    assert head_key(0) not in sidecar.values  # page 0 still has room: no process may skip it

    for n in range(2, PREPARE_AHEAD + 2):  # fill page 0
        await store.create(_task(n), events.created(_task(n)))
    await _settle()
    assert IndexPage.model_validate_json(sidecar.values[page_key(0, 0)].data).full
    assert HeadHint.model_validate_json(sidecar.values[head_key(0)].data).page == 1
    assert sidecar.puts.count(page_key(0, 1)) == 1  # created once, ahead

    sidecar.gets.clear()
    last = _task(99)
    await store.create(last, events.created(last))
    assert sidecar.gets == [page_key(0, 1)]  # straight to the new page: one read
    assert IndexPage.model_validate_json(sidecar.values[page_key(0, 1)].data).has(last.id)


async def test_filling_a_page_never_moves_the_head_hint_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Others filled pages 1..10 while this process still appended to page 0."""
    monkeypatch.setattr(random, "choice", lambda _: 0)
    sidecar = FakeState()
    index = ShardedIndex(sidecar)
    store = TaskStore(sidecar, index, Settings())
    sidecar.store(page_key(0, 0), _page_with(0, 0, PAGE_CAPACITY - 1).model_dump_json().encode())
    for number in range(1, 11):
        full = _page_with(0, number, PAGE_CAPACITY)
        sidecar.store(page_key(0, number), full.model_dump_json().encode())
    sidecar.store(head_key(0), HeadHint(page=10).model_dump_json().encode())
    index._newest = [0] * SHARDS

    await store.create(_task(1), events.created(_task(1)))  # fills page 0
    await _settle()
    assert HeadHint.model_validate_json(sidecar.values[head_key(0)].data).page == 10

    sidecar.gets.clear()
    await store.create(_task(2), events.created(_task(2)))
    await _settle()
    page_reads = [k for k in sidecar.gets if k != head_key(0)]
    # own page 1 (full), the hinted page 10 (full), 11 (missing: created), 11 again
    assert page_reads == [page_key(0, 1), page_key(0, 10), page_key(0, 11), page_key(0, 11)]
    assert IndexPage.model_validate_json(sidecar.values[page_key(0, 11)].data).has(_task(2).id)
    assert HeadHint.model_validate_json(sidecar.values[head_key(0)].data).page == 11
