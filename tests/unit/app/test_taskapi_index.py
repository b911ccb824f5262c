"""The task index's pure paging logic."""

from __future__ import annotations

import pytest

from taskapi.index import InvalidCursorError, TaskIndex, format_cursor, parse_cursor


def _index(*ids: str) -> TaskIndex:
    index = TaskIndex()
    for task_id in ids:
        index = index.add(task_id)
    return index


def test_add_assigns_increasing_sequence_and_is_idempotent() -> None:
    index = _index("a", "b").add("a")
    assert [(e.seq, e.task_id) for e in index.entries] == [(1, "a"), (2, "b")]
    assert index.next_seq == 3


def test_sequence_numbers_are_never_reused_after_remove() -> None:
    index = _index("a", "b").remove("b").add("c")
    assert [(e.seq, e.task_id) for e in index.entries] == [(1, "a"), (3, "c")]


def test_pages_walk_everything_once() -> None:
    index = _index(*"abcdefg")
    seen: list[str] = []
    cursor = 0
    for _ in range(10):
        page, nxt = index.after(cursor, 3)
        seen += [e.task_id for e in page]
        if nxt is None:
            break
        cursor = nxt
    assert seen == list("abcdefg")


def test_deletes_and_creates_between_pages_neither_skip_nor_repeat() -> None:
    index = _index(*"abcdef")
    page, cursor = index.after(0, 2)
    assert [e.task_id for e in page] == ["a", "b"]
    assert cursor is not None
    # Deleting an already-read entry does not shift unread ones into the read range.
    index = index.remove("a").remove("d").add("z")
    rest, _ = index.after(cursor, 100)
    assert [e.task_id for e in rest] == ["c", "e", "f", "z"]


def test_last_page_has_no_cursor() -> None:
    page, nxt = _index("a", "b").after(0, 2)
    assert len(page) == 2
    assert nxt is None


@pytest.mark.parametrize("raw", ["abc", "-1", "1.5"])
def test_bad_cursor_is_rejected(raw: str) -> None:
    with pytest.raises(InvalidCursorError):
        parse_cursor(raw)


def test_cursor_round_trip() -> None:
    assert parse_cursor(None) == 0
    assert parse_cursor(format_cursor(12)) == 12
    assert format_cursor(None) is None
