"""The task index: bounded pages in shards, so listing needs no query API and no value grows.

Redis state has no queries, so listing walks index pages. Each shard is a chain of pages
`index:<shard>:<page>`; a page holds at most PAGE_CAPACITY entries and is never reused once
full, so every stored value stays small (well under 64 KiB) at any number of tasks, and a
create touches one page whatever the total. Each entry has a sequence number within its
page that never changes; removals leave the others in place.

Keyset paging walks (shard, page, seq) in order: a task that exists for the whole listing
sits at one fixed position and is listed exactly once; a task created meanwhile lands either
ahead of the cursor (listed) or behind it (not listed), never twice.
"""

import re
from dataclasses import dataclass
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field

SHARDS = 8
# Small pages: every create reads and rewrites one.
PAGE_CAPACITY = 64
INDEX_PREFIX = "index:"


class IndexEntry(BaseModel):
    seq: int = Field(ge=1, le=PAGE_CAPACITY)
    task_id: str
    # When the entry was written, ahead of its task's record (see taskapi.shards): an entry
    # whose record is missing is a create still committing only while this is recent.
    # None: written together with its record (earlier versions, seeding).
    at: AwareDatetime | None = None


class IndexPage(BaseModel):
    shard: int = Field(ge=0, lt=SHARDS)
    number: int = Field(ge=0)
    next_seq: int = Field(default=1, ge=1, le=PAGE_CAPACITY + 1)
    entries: list[IndexEntry] = Field(default_factory=list, max_length=PAGE_CAPACITY)

    @property
    def full(self) -> bool:
        return self.next_seq > PAGE_CAPACITY

    def has(self, task_id: str) -> bool:
        return any(e.task_id == task_id for e in self.entries)

    def add(self, task_id: str, at: datetime | None = None) -> "IndexPage":
        """With `task_id` listed once (a retried create finds its entry already there)."""
        if self.has(task_id):
            return self
        if self.full:
            raise ValueError(f"index page {self.shard}/{self.number} is full")
        entry = IndexEntry(seq=self.next_seq, task_id=task_id, at=at)
        return self.model_copy(
            update={"next_seq": self.next_seq + 1, "entries": [*self.entries, entry]}
        )

    def without(self, task_ids: set[str]) -> "IndexPage":
        return self.model_copy(
            update={"entries": [e for e in self.entries if e.task_id not in task_ids]}
        )

    def after(self, seq: int) -> list[IndexEntry]:
        # Entries are appended in seq order and never reordered, so they stay sorted.
        return [e for e in self.entries if e.seq > seq]


def page_key(shard: int, number: int) -> str:
    return f"{INDEX_PREFIX}{shard}:{number}"


def head_key(shard: int) -> str:
    """A hint of the shard's newest page, so a new process need not walk the chain."""
    return f"{INDEX_PREFIX}{shard}:head"


class HeadHint(BaseModel):
    page: int = Field(ge=0)


class InvalidCursorError(ValueError):
    pass


@dataclass(frozen=True, order=True)
class Cursor:
    """Position in the walk: continue in `shard` at page `page` after entry `seq`."""

    shard: int = 0
    page: int = 0
    seq: int = 0

    def next_shard(self) -> "Cursor":
        return Cursor(self.shard + 1, 0, 0)

    def next_page(self) -> "Cursor":
        return Cursor(self.shard, self.page + 1, 0)

    @property
    def done(self) -> bool:
        return self.shard >= SHARDS


# Documented in the OpenAPI. Any page and seq are positions (past the end just means
# "nothing more there"); only the shard must exist.
CURSOR_PATTERN = rf"^v1\.[0-{SHARDS - 1}]\.[0-9]{{1,8}}\.[0-9]{{1,3}}$"
_CURSOR = re.compile(CURSOR_PATTERN)


def parse_cursor(raw: str | None) -> Cursor:
    if raw is None or raw == "":
        return Cursor()
    if _CURSOR.fullmatch(raw) is None:
        raise InvalidCursorError(f"cursor must be a value returned as next_cursor, got {raw!r}")
    _, shard, page, seq = raw.split(".")
    return Cursor(int(shard), int(page), int(seq))


def format_cursor(cursor: Cursor | None) -> str | None:
    if cursor is None or cursor.done:
        return None
    return f"v1.{cursor.shard}.{cursor.page}.{cursor.seq}"
