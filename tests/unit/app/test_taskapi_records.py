"""Telling a stored change's event from a phantom of a rejected write (pure logic)."""

from __future__ import annotations

from datetime import UTC, datetime

from taskapi import events
from taskapi.models import Task, TaskStatus
from taskapi.records import RECENT_EVENTS, TaskRecord, Verdict, verify

NOW = datetime(2025, 1, 2, tzinfo=UTC)
TID = "a" * 32
V1 = Task(id=TID, title="t", created_at=NOW, updated_at=NOW)


def _v(revision: int, status: TaskStatus = TaskStatus.IN_PROGRESS) -> Task:
    return V1.model_copy(update={"revision": revision, "status": status})


def test_the_event_written_with_a_revision_is_genuine() -> None:
    created = events.created(V1)
    record = TaskRecord.first(V1, created.event_id)
    assert verify(record, created) == Verdict.GENUINE
    moved = events.status_changed(V1, _v(2))
    assert moved is not None
    record = record.wrote(_v(2), moved.event_id)
    assert verify(record, created) == Verdict.GENUINE
    assert verify(record, moved) == Verdict.GENUINE


def test_loser_of_a_race_for_the_same_revision_is_a_phantom() -> None:
    winner = events.status_changed(V1, _v(2))
    loser = events.status_changed(V1, _v(2, TaskStatus.COMPLETED))
    assert winner is not None
    assert loser is not None
    record = TaskRecord.first(V1, "c").wrote(_v(2), winner.event_id)
    assert verify(record, loser) == Verdict.PHANTOM


def test_event_for_a_revision_never_stored_or_a_missing_task_is_a_phantom() -> None:
    ahead = events.status_changed(V1, _v(5))
    assert ahead is not None
    assert verify(TaskRecord.first(V1, "c"), ahead) == Verdict.PHANTOM
    assert verify(None, ahead) == Verdict.PHANTOM


def test_history_is_bounded_and_older_events_are_unverifiable() -> None:
    record = TaskRecord.first(V1, "e1")
    first = events.created(V1).model_copy(update={"event_id": "e1"})
    for revision in range(2, RECENT_EVENTS + 10):
        record = record.wrote(_v(revision), f"e{revision}")
    assert len(record.events) == RECENT_EVENTS
    assert verify(record, first) == Verdict.UNVERIFIABLE
    deleted = events.deleted(_v(RECENT_EVENTS + 10))
    gone = record.wrote(_v(RECENT_EVENTS + 10), deleted.event_id, deleted=True)
    assert gone.deleted
    assert verify(gone, deleted) == Verdict.GENUINE
