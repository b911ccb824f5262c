"""The task index: Redis state has no queries, so listing walks this ordered list of ids.

Each id gets a sequence number when it is added, from a counter inside the same document,
so sequence order is commit order. Paging by "sequence > cursor" (keyset, not offset)
means a concurrent delete never shifts a later task into an already-read page and a
concurrent create always lands after every cursor handed out before it: nothing is listed
twice and nothing that exists for the whole listing is skipped.
"""

from pydantic import BaseModel, Field


class IndexEntry(BaseModel):
    seq: int = Field(ge=1)
    task_id: str


class TaskIndex(BaseModel):
    next_seq: int = Field(default=1, ge=1)
    entries: list[IndexEntry] = Field(default_factory=list)

    def contains(self, task_id: str) -> bool:
        return any(e.task_id == task_id for e in self.entries)

    def add(self, task_id: str) -> "TaskIndex":
        if self.contains(task_id):
            return self
        entry = IndexEntry(seq=self.next_seq, task_id=task_id)
        return TaskIndex(next_seq=self.next_seq + 1, entries=[*self.entries, entry])

    def remove(self, task_id: str) -> "TaskIndex":
        return TaskIndex(
            next_seq=self.next_seq, entries=[e for e in self.entries if e.task_id != task_id]
        )

    def after(self, cursor: int, limit: int) -> tuple[list[IndexEntry], int | None]:
        """Up to `limit` entries past `cursor`, and the cursor to continue from (None: done)."""
        # Entries are appended in seq order and never reordered, so they stay sorted.
        rest = [e for e in self.entries if e.seq > cursor]
        page = rest[:limit]
        more = len(rest) > limit
        return page, (page[-1].seq if more else None)


class InvalidCursorError(ValueError):
    pass


def parse_cursor(raw: str | None) -> int:
    if raw is None or raw == "":
        return 0
    if not raw.isdigit():
        raise InvalidCursorError(f"cursor must be a value returned as next_cursor, got {raw!r}")
    return int(raw)


def format_cursor(seq: int | None) -> str | None:
    return None if seq is None else str(seq)
