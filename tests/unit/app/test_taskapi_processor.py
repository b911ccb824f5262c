"""The subscription's SUCCESS / RETRY / DROP decisions, with fakes for Dapr (pure logic)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from fake_state import FakeState

from taskapi import events
from taskapi.activity import ActivityLog, Sighting, activity_key
from taskapi.errors import DaprUnavailableError, InvocationError
from taskapi.models import Task, TaskActivity, TaskEvent, TaskStatus
from taskapi.records import TaskRecord
from taskapi.settings import Settings
from taskapi.subscriber import Delivery, EventProcessor
from taskapi.tasks import task_key

NOW = datetime(2025, 1, 2, tzinfo=UTC)
TID = "0" * 31 + "1"
PENDING = Task(id=TID, title="x", created_at=NOW, updated_at=NOW)
TASK = PENDING.model_copy(update={"status": TaskStatus.COMPLETED, "revision": 2})


class FakeIO:
    def __init__(self, failure: Exception | None = None) -> None:
        self.failure = failure
        self.notified: list[TaskEvent] = []

    async def notify(self, event: TaskEvent) -> None:
        if self.failure is not None:
            raise self.failure
        self.notified.append(event)


class FakeStore:
    """Task records and activities on a fake state store, read by the real ActivityLog."""

    def __init__(self) -> None:
        self.state = FakeState()
        self.log = ActivityLog(self.state, Settings())

    def stored(self, *written: TaskEvent) -> None:
        """The record as the transactions that wrote `written` left it."""
        record = TaskRecord.first(PENDING, written[0].event_id)
        for event in written[1:]:
            record = record.wrote(
                TASK.model_copy(update={"revision": event.revision}), event.event_id
            )
        self.state.store(task_key(TID), record.model_dump_json().encode())

    @property
    def activities(self) -> dict[str, TaskActivity]:
        stored = self.state.values.get(activity_key(TID))
        return {TID: TaskActivity.model_validate_json(stored.data)} if stored else {}


def _raw(event: TaskEvent) -> bytes:
    return json.dumps({"id": "ce", "data": json.loads(event.model_dump_json())}).encode()


def _processor(io: FakeIO, store: FakeStore) -> EventProcessor:
    return EventProcessor(io, store.log, Settings())


async def test_completion_notifies_once_even_when_delivered_twice() -> None:
    io, store = FakeIO(), FakeStore()
    event = events.status_changed(PENDING, TASK)
    assert event is not None
    store.stored(events.created(PENDING), event)
    processor = _processor(io, store)
    assert await processor.process(_raw(event)) == Delivery.SUCCESS
    assert await processor.process(_raw(event)) == Delivery.SUCCESS
    assert len(io.notified) == 1
    assert len(store.activities[TID].events) == 1


async def test_created_event_is_recorded_without_notifying() -> None:
    io, store = FakeIO(), FakeStore()
    created = events.created(PENDING)
    store.stored(created)
    assert await _processor(io, store).process(_raw(created)) == Delivery.SUCCESS
    assert io.notified == []
    assert store.activities[TID].events[0].event_type == "task.created"


async def test_phantom_completion_changes_nothing_and_notifies_no_one() -> None:
    io, store = FakeIO(), FakeStore()
    genuine = events.status_changed(PENDING, TASK.model_copy(update={"status": "in_progress"}))
    phantom = events.status_changed(PENDING, TASK)  # lost the race for revision 2
    assert genuine is not None
    assert phantom is not None
    store.stored(events.created(PENDING), genuine)
    assert await _processor(io, store).process(_raw(phantom)) == Delivery.SUCCESS
    assert io.notified == []
    assert TID not in store.activities


@pytest.mark.parametrize(
    ("failure", "answer"),
    [
        (InvocationError("503", transient=True, status=503), Delivery.RETRY),
        (InvocationError("400", transient=False, status=400), Delivery.DROP),
        (DaprUnavailableError("secret store down"), Delivery.RETRY),
    ],
)
async def test_failed_notification_is_retried_or_dropped(
    failure: Exception, answer: Delivery
) -> None:
    io, store = FakeIO(failure), FakeStore()
    event = events.status_changed(PENDING, TASK)
    assert event is not None
    store.stored(events.created(PENDING), event)
    assert await _processor(io, store).process(_raw(event)) == answer
    # Not marked processed: the redelivery will try the notification again.
    assert TID not in store.activities


async def test_malformed_event_is_dropped() -> None:
    assert await _processor(FakeIO(), FakeStore()).process(b'{"data": {}}') == Delivery.DROP


async def test_a_burst_of_events_is_handled_a_few_at_a_time() -> None:
    """The outbox releases events in bursts; only event_concurrency run at once."""
    io, store = FakeIO(), FakeStore()
    store.stored(events.created(PENDING))
    running = peak = 0
    gate = asyncio.Event()
    look = store.log.look

    async def slow_look(event: TaskEvent) -> Sighting:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await gate.wait()
        running -= 1
        return await look(event)

    store.log.look = slow_look  # type: ignore[method-assign]
    processor = EventProcessor(io, store.log, Settings(event_concurrency=3))
    burst = [
        asyncio.create_task(processor.process(_raw(events.created(PENDING)))) for _ in range(20)
    ]
    for _ in range(20):  # every delivery has had its chance to start
        await asyncio.sleep(0)
    assert peak == 3
    gate.set()
    outcomes = await asyncio.gather(*burst)
    assert outcomes == [Delivery.SUCCESS] * 20
    assert peak == 3
