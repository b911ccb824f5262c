"""The Task API's routes in process: the real app, service and store layer on a fake
StateStore (fake_state), wired through the routes' FastAPI dependencies.

What HTTP answers each use case gives (statuses, ETag, Location, problem+json) and which
event each change announces; the real stack's behaviour is in tests/integration/app.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from fake_state import FakeState

from taskapi import routes, subscriber
from taskapi.activity import ActivityLog
from taskapi.errors import DaprUnavailableError
from taskapi.main import create_app
from taskapi.models import TaskEvent
from taskapi.service import TaskService
from taskapi.settings import Settings
from taskapi.shards import ShardedIndex
from taskapi.statestore import Announce, Versioned, Write
from taskapi.subscriber import EventProcessor
from taskapi.tasks import TaskStore


def _client(
    state: FakeState, settings: Settings, processor: EventProcessor | None = None
) -> httpx.AsyncClient:
    """The app on ``state`` through the routes' dependencies, served in process (ASGI); its
    lifespan, which would connect to a sidecar, does not run."""
    app = create_app(settings)
    if processor is not None:
        app.dependency_overrides[subscriber.processor] = lambda: processor
    service = TaskService(TaskStore(state, ShardedIndex(state), settings), settings)
    activity = ActivityLog(state, settings)
    app.dependency_overrides[routes.get_service] = lambda: service
    app.dependency_overrides[routes.get_activity] = lambda: activity
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://taskapi")


@pytest.fixture
def state() -> FakeState:
    return FakeState()


@pytest.fixture
async def api(state: FakeState) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(state, Settings()) as client:
        yield client


def _announced(state: FakeState) -> list[str]:
    return [json.loads(raw)["event_type"] for raw in state.announced]


async def test_create_answers_201_with_location_and_etag_and_announces_it(
    api: httpx.AsyncClient, state: FakeState
) -> None:
    reply = await api.post("/tasks", json={"title": "write tests", "priority": 2})
    assert reply.status_code == 201, reply.text
    task = reply.json()
    assert reply.headers["Location"] == f"/tasks/{task['id']}"
    assert reply.headers["ETag"] == '"1"'
    assert _announced(state) == ["task.created"]
    got = await api.get(f"/tasks/{task['id']}")
    assert got.status_code == 200
    assert got.json() == task
    assert [t["id"] for t in (await api.get("/tasks")).json()["items"]] == [task["id"]]


async def test_completing_announces_once_and_a_repeat_changes_nothing(
    api: httpx.AsyncClient, state: FakeState
) -> None:
    task_id = (await api.post("/tasks", json={"title": "t"})).json()["id"]
    done = await api.put(f"/tasks/{task_id}/status", params={"status": "completed"})
    assert done.status_code == 200, done.text
    assert done.headers["ETag"] == '"2"'
    again = await api.put(f"/tasks/{task_id}/status", params={"status": "completed"})
    assert again.headers["ETag"] == '"2"'
    assert _announced(state) == ["task.created", "task.completed"]


async def test_an_edit_moves_the_etag_but_announces_nothing(
    api: httpx.AsyncClient, state: FakeState
) -> None:
    task_id = (await api.post("/tasks", json={"title": "t"})).json()["id"]
    edited = await api.patch(f"/tasks/{task_id}", json={"title": "u"}, headers={"If-Match": '"1"'})
    assert edited.status_code == 200, edited.text
    assert edited.json()["title"] == "u"
    assert edited.headers["ETag"] == '"2"'
    assert _announced(state) == ["task.created"]


async def test_a_stale_if_match_is_412_with_a_problem(api: httpx.AsyncClient) -> None:
    task_id = (await api.post("/tasks", json={"title": "t"})).json()["id"]
    await api.patch(f"/tasks/{task_id}", json={"title": "u"})
    stale = await api.patch(f"/tasks/{task_id}", json={"title": "v"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    assert stale.json()["status"] == 412


async def test_if_match_required_by_setting_is_428(state: FakeState) -> None:
    async with _client(state, Settings(require_if_match=True)) as api:
        task_id = (await api.post("/tasks", json={"title": "t"})).json()["id"]
        assert (await api.delete(f"/tasks/{task_id}")).status_code == 428
        assert (await api.delete(f"/tasks/{task_id}", headers={"If-Match": "*"})).status_code == 204


async def test_a_deleted_task_is_gone_from_get_and_listing(
    api: httpx.AsyncClient, state: FakeState
) -> None:
    kept = (await api.post("/tasks", json={"title": "kept"})).json()["id"]
    gone = (await api.post("/tasks", json={"title": "gone"})).json()["id"]
    assert (await api.delete(f"/tasks/{gone}")).status_code == 204
    missing = await api.get(f"/tasks/{gone}")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert [t["id"] for t in (await api.get("/tasks")).json()["items"]] == [kept]
    assert _announced(state)[-1] == "task.deleted"


async def test_an_unknown_task_and_a_bad_cursor_are_404_and_422(api: httpx.AsyncClient) -> None:
    assert (await api.get("/tasks/" + "0" * 32)).status_code == 404
    assert (
        await api.put("/tasks/" + "0" * 32 + "/status", params={"status": "completed"})
    ).status_code == 404
    assert (await api.get("/tasks", params={"cursor": "nope"})).status_code == 422
    assert (await api.get("/tasks/" + "0" * 32 + "/activity")).status_code == 404


class DownState(FakeState):
    async def get(self, key: str) -> Versioned | None:
        raise DaprUnavailableError("state store 'statestore' is down")


async def test_a_store_outage_is_503_with_retry_after() -> None:
    async with _client(DownState(), Settings()) as api:
        reply = await api.get("/tasks/" + "0" * 32)
        assert reply.status_code == 503
        assert reply.headers["Retry-After"] == "5"
        assert "down" in reply.json()["detail"]
        assert (await api.post("/tasks", json={"title": "t"})).status_code == 503


async def test_only_task_events_are_published(api: httpx.AsyncClient, state: FakeState) -> None:
    """Index pages are storage: a create writes its page outside the transaction, so
    what the outbox publishes (a message per written value) is the TaskEvent alone."""
    for i in range(5):
        task_id = (await api.post("/tasks", json={"title": f"t{i}"})).json()["id"]
        await api.put(f"/tasks/{task_id}/status", params={"status": "completed"})
    published = [json.loads(raw) for raw in state.published]
    assert len(published) == 10
    assert all(set(m) >= {"event_id", "event_type", "task_id", "revision"} for m in published)


class RefusingState(FakeState):
    """Refuses every transaction, as a store without the outbox metadata does."""

    async def transact(self, writes: list[Write], announce: Announce) -> None:
        raise DaprUnavailableError("transaction refused: Dapr answered INTERNAL")


async def test_a_refused_create_is_503_naming_the_outbox_and_lists_nothing() -> None:
    async with _client(RefusingState(), Settings()) as api:
        reply = await api.post("/tasks", json={"title": "t"})
        assert reply.status_code == 503
        assert "outboxPublishPubsub" in reply.json()["detail"]
        listed = await api.get("/tasks")
        assert listed.status_code == 200
        assert listed.json()["items"] == []


class Notified:
    def __init__(self) -> None:
        self.events: list[str] = []

    async def notify(self, event: TaskEvent) -> None:
        self.events.append(event.event_id)


async def test_the_bulk_subscription_answers_each_entry_and_records_the_events(
    state: FakeState,
) -> None:
    """What daprd posts for a bulk subscription (an envelope of entries, each a CloudEvent)
    and what it reads back (a status per entry id); a single CloudEvent still gets one."""
    settings = Settings()
    notified = Notified()
    processor = EventProcessor(notified, ActivityLog(state, settings), settings)
    async with _client(state, settings, processor) as api:
        listed = (await api.get("/dapr/subscribe")).json()
        assert listed == [
            {
                "pubsubname": "pubsub",
                "topic": "task-events",
                "route": "/events/pubsub/task-events",
                "metadata": {},
                "deadLetterTopic": "task-events-deadletter",
                "bulkSubscribe": {
                    "enabled": True,
                    "maxMessagesCount": 100,
                    "maxAwaitDurationMs": 100,
                },
            }
        ]
        task_id = (await api.post("/tasks", json={"title": "t"})).json()["id"]
        await api.put(f"/tasks/{task_id}/status", params={"status": "completed"})
        entries = [
            {"entryId": f"e{n}", "event": {"id": f"ce{n}", "data": json.loads(raw)}}
            for n, raw in enumerate(state.announced)
        ]
        entries.append({"entryId": "bad", "event": {"id": "x", "data": {"title": "?"}}})
        envelope = {"entries": entries, "id": "b", "pubsubname": "pubsub", "topic": "task-events"}
        reply = await api.post(listed[0]["route"], json=envelope)
        assert reply.status_code == 200, reply.text
        assert reply.json() == {
            "statuses": [
                {"entryId": "e0", "status": "SUCCESS"},
                {"entryId": "e1", "status": "SUCCESS"},
                {"entryId": "bad", "status": "DROP"},
            ]
        }
        activity = (await api.get(f"/tasks/{task_id}/activity")).json()
        assert [e["event_type"] for e in activity["events"]] == ["task.created", "task.completed"]
        assert len(notified.events) == 1
        again = await api.post(listed[0]["route"], json=entries[1]["event"])
        assert again.json() == {"status": "SUCCESS"}
        assert len(notified.events) == 1  # recorded: a redelivery notifies no one
