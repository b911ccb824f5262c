"""The sharded index pages and cursors (pure logic)."""

from __future__ import annotations

import pytest

from taskapi.index import (
    PAGE_CAPACITY,
    SHARDS,
    Cursor,
    IndexPage,
    InvalidCursorError,
    format_cursor,
    page_key,
    parse_cursor,
)


def _page(*ids: str) -> IndexPage:
    page = IndexPage(shard=0, number=0)
    for task_id in ids:
        page = page.add(task_id)
    return page


def test_add_assigns_increasing_sequence_never_reused_after_removal() -> None:
    page = _page("a", "b").without({"b"}).add("c")
    assert [(e.seq, e.task_id) for e in page.entries] == [(1, "a"), (3, "c")]
    assert page.after(1) == page.entries[1:]


def test_a_page_is_bounded_by_its_capacity_and_stays_small() -> None:
    page = _page(*(f"{i:032x}" for i in range(PAGE_CAPACITY)))
    assert page.full
    with pytest.raises(ValueError, match="full"):
        page.add("x" * 32)
    # Removing entries does not make room: positions are never reused.
    assert page.without({page.entries[0].task_id}).full
    assert len(page.model_dump_json()) < 64 * 1024 // 4


def test_cursor_round_trip_and_order() -> None:
    for cursor in (Cursor(), Cursor(3, 17, 5), Cursor(SHARDS - 1, 10_000, 999)):
        assert parse_cursor(format_cursor(cursor)) == cursor
    assert Cursor(0, 5, 9) < Cursor(1, 0, 0) < Cursor(1, 0, 1)
    assert format_cursor(Cursor(SHARDS - 1, 3, 2).next_shard()) is None
    assert format_cursor(None) is None
    assert parse_cursor(None) == parse_cursor("") == Cursor()


@pytest.mark.parametrize(
    "raw",
    [
        "x",
        "1",
        "v1.1.1",
        f"v1.{SHARDS}.0.0",
        "v1.0.0.9999",
        "v1.0.999999999.0",
        "v2.0.0.0",
        "v1.-1.0.0",
        " v1.0.0.0",
        "v1.0.0.0\n",
    ],
)
def test_cursors_not_handed_out_are_rejected(raw: str) -> None:
    with pytest.raises(InvalidCursorError):
        parse_cursor(raw)


def test_page_keys_are_per_shard_and_number() -> None:
    assert page_key(2, 7) == "index:2:7"
