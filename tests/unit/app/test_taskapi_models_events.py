"""Task models, event building, ETag parsing and CloudEvent parsing (pure logic)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from taskapi import etags, events
from taskapi.activity import with_events
from taskapi.index import IndexPage
from taskapi.models import EventType, Task, TaskActivity, TaskCreate, TaskStatus, TaskUpdate
from taskapi.subscriber import IndexWrite, parse_event

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
TID = "0" * 31 + "1"


def _task(**changes: object) -> Task:
    base = {"id": TID, "title": "write", "created_at": NOW, "updated_at": NOW}
    return Task.model_validate({**base, **changes})


@pytest.mark.parametrize(
    "body",
    [
        {"title": ""},
        {"title": "x" * 201},
        {"title": "a", "priority": 0},
        {"title": "a", "priority": 6},
        {"title": "a", "status": "completed"},
    ],
)
def test_task_create_rejects_invalid_input(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        TaskCreate.model_validate(body)


def test_task_update_needs_a_field_and_forbids_status() -> None:
    with pytest.raises(ValidationError):
        TaskUpdate.model_validate({})
    with pytest.raises(ValidationError):
        TaskUpdate.model_validate({"status": "completed"})
    assert TaskUpdate.model_validate({"priority": 2}).model_dump(exclude_unset=True) == {
        "priority": 2
    }


def test_timestamps_must_be_timezone_aware() -> None:
    with pytest.raises(ValidationError):
        _task(created_at=datetime(2025, 1, 1))


def test_events_for_create_delete_and_status_transitions() -> None:
    task = _task()
    assert events.created(task).event_type == EventType.CREATED
    assert events.deleted(task).event_type == EventType.DELETED
    done = task.model_copy(update={"status": TaskStatus.COMPLETED})
    moving = task.model_copy(update={"status": TaskStatus.IN_PROGRESS})
    assert events.status_changed(task, task) is None
    assert events.status_changed(task, moving).event_type == EventType.STATUS_CHANGED  # type: ignore[union-attr]
    completed = events.status_changed(moving, done)
    assert completed is not None
    assert completed.event_type == EventType.COMPLETED
    assert (completed.task_id, completed.title, completed.status) == (TID, "write", "completed")
    assert json.loads(completed.model_dump_json())["event_type"] == "task.completed"


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ('"7"', "7"), ("7", "7"), ('W/"7"', "7"), ("*", etags.ANY)],
)
def test_if_match_parsing(header: str | None, expected: str | None) -> None:
    assert etags.parse_if_match(header) == expected


def test_etag_matching() -> None:
    assert etags.matches(None, 3)
    assert etags.matches(etags.ANY, 3)
    assert etags.matches("3", 3)
    assert not etags.matches("2", 3)
    assert etags.to_header(3) == '"3"'


def _cloud_event(data: object) -> dict[str, object]:
    """A CloudEvent as the subscription route decodes it (one delivery, or a bulk entry's)."""
    return {"id": "ce-1", "type": "com.dapr.event.sent", "data": data}


def test_parse_event_reads_the_cloudevent_data_not_the_envelope() -> None:
    event = events.created(_task())
    parsed = parse_event(_cloud_event(json.loads(event.model_dump_json())))
    assert parsed == event
    # JSON carried as a string (publisher without a JSON content type) is accepted too.
    assert parse_event(_cloud_event(event.model_dump_json())) == event


@pytest.mark.parametrize(
    "decoded",
    [
        None,  # a body that is not JSON
        [],
        "text",
        {"id": "x"},
        _cloud_event({"event_type": "nope"}),
        _cloud_event("{broken"),
        _cloud_event(None),
    ],
)
def test_malformed_events_parse_to_none(decoded: object) -> None:
    assert parse_event(decoded) is None


def test_index_page_written_by_a_create_is_recognised_not_dropped() -> None:
    # The outbox publishes every value a transaction writes; the page comes as text.
    page = IndexPage(shard=1, number=0).add(TID)
    assert isinstance(parse_event(_cloud_event(page.model_dump_json())), IndexWrite)


def test_update_rejects_null_for_every_field() -> None:
    for field in ("title", "description", "priority"):
        with pytest.raises(ValidationError, match="cannot be null"):
            TaskUpdate.model_validate({field: None})
    assert TaskUpdate.model_validate({"title": "x"}).changes() == {"title": "x"}
    schema = TaskUpdate.model_json_schema()
    assert "null" not in json.dumps(schema["properties"]["title"])


def test_task_ids_are_server_minted_hex() -> None:
    with pytest.raises(ValidationError):
        _task(id="../x")


def test_activity_records_each_event_once() -> None:
    event = events.created(_task())
    first = with_events(None, [event])
    assert first is not None
    assert first.has(event.event_id)
    assert with_events(first, [event]) is None
    other = events.deleted(_task())
    second = with_events(first, [other])
    assert isinstance(second, TaskActivity)
    assert [e.event_type for e in second.events] == [EventType.CREATED, EventType.DELETED]


def test_a_batch_of_one_tasks_events_is_recorded_in_order_each_once() -> None:
    created, deleted = events.created(_task()), events.deleted(_task())
    both = with_events(None, [created, deleted, created])
    assert both is not None
    assert [e.event_id for e in both.events] == [created.event_id, deleted.event_id]
    assert with_events(both, [deleted, created]) is None
