"""The subscription's SUCCESS / RETRY / DROP decisions, one event and batches, with fakes for
Dapr (pure logic)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from fake_state import FakeState

from taskapi import events
from taskapi.activity import ActivityLog, activity_key
from taskapi.errors import DaprUnavailableError, InvocationError
from taskapi.models import Task, TaskActivity, TaskEvent, TaskStatus
from taskapi.records import TaskRecord
from taskapi.settings import Settings
from taskapi.subscriber import Delivery, EventProcessor
from taskapi.tasks import task_key

NOW = datetime(2025, 1, 2, tzinfo=UTC)
TID = "0" * 31 + "1"
PENDING = Task(id=TID, title="x", created_at=NOW, updated_at=NOW)
TASK_CHANGE: dict[str, Any] = {"status": TaskStatus.COMPLETED, "revision": 2}
TASK = PENDING.model_copy(update=TASK_CHANGE)


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


def _raw(event: TaskEvent) -> dict[str, Any]:
    """The CloudEvent as the route decodes it (one delivery, or one bulk entry's event)."""
    return {"id": "ce", "data": json.loads(event.model_dump_json())}


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
    processor = _processor(FakeIO(), FakeStore())
    assert await processor.process({"data": {}}) == Delivery.DROP
    assert await processor.process(None) == Delivery.DROP


async def test_a_batch_reads_once_and_writes_each_tasks_events_together() -> None:
    """A task's creation and completion in one batch: one read, one activity write, one
    notification; a malformed entry beside them is dropped alone."""
    io, store = FakeIO(), FakeStore()
    created = events.created(PENDING)
    completed = events.status_changed(PENDING, TASK)
    assert completed is not None
    store.stored(created, completed)
    batch = [_raw(completed), {"data": "not json"}, _raw(created), _raw(completed)]
    outcomes = await _processor(io, store).process_batch(batch)
    assert outcomes == [Delivery.SUCCESS, Delivery.DROP, Delivery.SUCCESS, Delivery.SUCCESS]
    assert io.notified == [completed]
    assert store.state.puts == [activity_key(TID)]
    assert store.state.gets == [activity_key(TID), task_key(TID)]
    recorded = [e.event_type for e in store.activities[TID].events]
    assert recorded == ["task.created", "task.completed"]  # by revision, not arrival


async def test_a_failed_notification_leaves_only_its_own_event_for_redelivery() -> None:
    io, store = FakeIO(InvocationError("503", transient=True, status=503)), FakeStore()
    created = events.created(PENDING)
    completed = events.status_changed(PENDING, TASK)
    assert completed is not None
    store.stored(created, completed)
    outcomes = await _processor(io, store).process_batch([_raw(created), _raw(completed)])
    assert outcomes == [Delivery.SUCCESS, Delivery.RETRY]
    assert [e.event_id for e in store.activities[TID].events] == [created.event_id]


async def test_a_batch_whose_read_fails_is_retried_whole() -> None:
    class Down(FakeStore):
        def __init__(self) -> None:
            super().__init__()

            async def down(keys: list[str]) -> dict[str, Any]:
                raise DaprUnavailableError("state store down")

            self.state.get_many = down  # type: ignore[method-assign]

    store = Down()
    batch = [_raw(events.created(PENDING)), {"data": {}}]
    outcomes = await _processor(FakeIO(), store).process_batch(batch)
    assert outcomes == [Delivery.RETRY, Delivery.DROP]


async def test_a_burst_of_tasks_is_handled_a_few_at_a_time() -> None:
    """The outbox releases events in bursts; only event_concurrency tasks run at once."""
    running = peak = 0
    gate = asyncio.Event()

    class SlowIO(FakeIO):
        async def notify(self, event: TaskEvent) -> None:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await gate.wait()
            running -= 1
            await super().notify(event)

    io, store = SlowIO(), FakeStore()
    burst = []
    for n in range(20):
        task = PENDING.model_copy(update={"id": f"{n:032x}"})
        created = events.created(task)
        completed = events.status_changed(task, task.model_copy(update=TASK_CHANGE))
        assert completed is not None
        record = TaskRecord.first(task, created.event_id).wrote(
            task.model_copy(update=TASK_CHANGE), completed.event_id
        )
        store.state.store(task_key(task.id), record.model_dump_json().encode())
        burst.append(_raw(completed))
    processor = EventProcessor(io, store.log, Settings(event_concurrency=3))
    handled = asyncio.create_task(processor.process_batch(burst))
    for _ in range(50):  # every task has had its chance to start
        await asyncio.sleep(0)
    assert peak == 3
    gate.set()
    assert await handled == [Delivery.SUCCESS] * 20
    assert peak == 3
    assert len(io.notified) == 20
