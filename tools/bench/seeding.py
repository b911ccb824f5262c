"""Store many tasks fast, in the Task API's own layout, straight through its daprd.

Creating 100k tasks through the API would take many minutes and queue 100k outbox events
(daprd's outbox holds each internal message about a second). Seeding is a restore, not a
workload: task records and full index pages are written with daprd's bulk state API (no
transaction, so no outbox events), in the app's own models (taskapi.records, taskapi.index)
after the pages the app already has, then each shard's head hint. Records first, so a
listed entry always has its record.
"""

from __future__ import annotations

import time
from itertools import islice
from typing import Any

import httpx

from taskapi.index import PAGE_CAPACITY, SHARDS, HeadHint, IndexEntry, IndexPage, head_key, page_key
from taskapi.models import Task, new_id, utcnow
from taskapi.records import TaskRecord
from taskapi.tasks import task_key

BATCH = 500
MAX_PAGES_PER_SHARD = 100_000


def _first_free_page(client: httpx.Client, shard: int) -> int:
    for number in range(MAX_PAGES_PER_SHARD):  # bounded walk of the existing chain
        reply = client.get(f"/{page_key(shard, number)}")  # "/": "index:..." is no scheme
        if reply.status_code == 204:
            return number
        reply.raise_for_status()
    raise RuntimeError(f"index shard {shard} has over {MAX_PAGES_PER_SHARD} pages")


def _etag_of(client: httpx.Client, key: str) -> dict[str, str]:
    """The key's current ETag, as a bulk item's field: the app writes head hints
    first-write, and Redis then refuses an unconditional write of them."""
    reply = client.get(f"/{key}")
    reply.raise_for_status()
    etag = reply.headers.get("ETag")
    return {"etag": etag} if reply.status_code == 200 and etag else {}


def _save(client: httpx.Client, items: list[dict[str, Any]]) -> None:
    reply = client.post("/", json=items)
    if reply.status_code >= 300:
        raise RuntimeError(f"bulk save failed: {reply.status_code} {reply.text[:500]}")


def seed(sidecar_url: str, count: int, budget_seconds: float) -> tuple[int, str | None]:
    """Store ``count`` tasks (fewer if the budget runs out); (stored, one seeded id)."""
    deadline = time.monotonic() + budget_seconds
    stored = 0
    sample: str | None = None
    with httpx.Client(base_url=f"{sidecar_url}/v1.0/state/statestore", timeout=120) as client:
        first = [_first_free_page(client, s) for s in range(SHARDS)]
        per_page = PAGE_CAPACITY
        pages_needed = -(-count // per_page)
        for chunk_start in range(0, pages_needed, max(1, BATCH // per_page)):
            if time.monotonic() > deadline:
                break
            records: list[dict[str, Any]] = []
            pages: list[dict[str, Any]] = []
            for p in range(chunk_start, min(pages_needed, chunk_start + BATCH // per_page)):
                shard, number = p % SHARDS, first[p % SHARDS] + p // SHARDS
                n = min(per_page, count - p * per_page)
                now = utcnow()
                tasks = [
                    Task(id=new_id(), title=f"seeded {p}-{i}", created_at=now, updated_at=now)
                    for i in range(n)
                ]
                records += [
                    {
                        "key": task_key(t.id),
                        "value": TaskRecord.first(t, new_id()).model_dump(mode="json"),
                    }
                    for t in tasks
                ]
                entries = [IndexEntry(seq=i + 1, task_id=t.id) for i, t in enumerate(tasks)]
                page = IndexPage(
                    shard=shard, number=number, next_seq=PAGE_CAPACITY + 1, entries=entries
                )
                pages.append(
                    {"key": page_key(shard, number), "value": page.model_dump(mode="json")}
                )
                sample = sample or tasks[0].id
            for i in range(0, len(records), BATCH):
                _save(client, list(islice(records, i, i + BATCH)))
            _save(client, pages)
            stored += len(records)
        written = -(-stored // per_page)
        heads = [
            {
                "key": head_key(s),
                "value": HeadHint(page=first[s] + (written - 1 - s) // SHARDS).model_dump(
                    mode="json"
                ),
                **_etag_of(client, head_key(s)),
            }
            for s in range(min(SHARDS, written))
        ]
        if heads:
            _save(client, heads)
    return stored, sample
