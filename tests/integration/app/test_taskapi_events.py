"""Events through real Redis Streams pub/sub, the subscription, and invocation with secrets."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from harness.redis import RedisServer
from harness.taskapi_stack import API_KEY, Stack
from harness.waiting import eventually

pytestmark = pytest.mark.integration

CLOUDEVENTS_JSON = "application/cloudevents+json"


def _activity_types(api: httpx.Client, task_id: str) -> list[str]:
    resp = api.get(f"/tasks/{task_id}/activity")
    return [e["event_type"] for e in resp.json()["events"]] if resp.status_code == 200 else []


def _notifications(stack: Stack, task_id: str) -> list[dict[str, Any]]:
    resp = httpx.get(f"{stack.notifier.url}/notifications", params={"task_id": task_id})
    resp.raise_for_status()
    result: list[dict[str, Any]] = resp.json()
    return result


def _publish(stack: Stack, body: dict[str, Any], content_type: str) -> None:
    sidecar = stack.taskapi_sidecar
    resp = httpx.post(
        f"{sidecar.http_url}/v1.0/publish/pubsub/{stack.topic}",
        content=json.dumps(body),
        headers={"Content-Type": content_type},
    )
    assert resp.status_code == 204, resp.text


def test_sidecar_metadata_lists_the_subscription(stack: Stack) -> None:
    subscriptions = stack.taskapi_sidecar.metadata()["subscriptions"]
    mine = [s for s in subscriptions if s["topic"] == stack.topic]
    assert len(mine) == 1
    assert mine[0]["pubsubname"] == "pubsub"
    assert mine[0]["deadLetterTopic"] == f"{stack.topic}-deadletter"


def test_created_and_completed_events_reach_the_subscription_and_notify_once(
    api: httpx.Client, stack: Stack
) -> None:
    task = api.post("/tasks", json={"title": "ship it"}).json()
    eventually(lambda: "task.created" in _activity_types(api, task["id"]))
    assert _notifications(stack, task["id"]) == []  # only completion notifies

    done = api.put(f"/tasks/{task['id']}/status", params={"status": "completed"})
    assert done.status_code == 200
    eventually(lambda: "task.completed" in _activity_types(api, task["id"]))
    notes = eventually(lambda: _notifications(stack, task["id"]))
    assert [n["event_type"] for n in notes] == ["task.completed"]
    # The seed lesson's checks: kubectl logs ... | grep "Received event" / "Notification".
    log = (stack.workdir / "taskapi.log").read_text()
    assert f"Received event: task.created for task {task['id']}" in log
    assert f"Received event: task.completed for task {task['id']}" in log
    assert f"Notification sent for task {task['id']}" in log

    # Deliver the very same completion event twice more: still exactly one notification.
    activity = api.get(f"/tasks/{task['id']}/activity").json()
    completed = next(e for e in activity["events"] if e["event_type"] == "task.completed")
    replay = {
        "event_id": completed["event_id"],
        "event_type": "task.completed",
        "task_id": task["id"],
        "title": task["title"],
        "status": "completed",
        "revision": done.json()["revision"],
        "timestamp": datetime.now(UTC).isoformat(),
    }
    for _ in range(2):
        _publish(stack, replay, "application/json")
    time.sleep(2)  # both deliveries handled (redelivery would be after 1s)
    assert len(_notifications(stack, task["id"])) == 1
    assert _activity_types(api, task["id"]).count("task.completed") == 1


def _deliveries(api: httpx.Client, stack: Stack) -> float:
    """Requests daprd has posted to the subscription's route (the app's /metrics)."""
    route = f'route="/events/pubsub/{stack.topic}"'
    lines = api.get("/metrics").text.splitlines()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in lines
        if line.startswith("taskapi_http_requests_total{") and route in line
    )


def test_events_published_together_reach_the_app_in_batches(
    api: httpx.Client, stack: Stack
) -> None:
    """The bulk subscription on real daprd: ten events published in one call reach the app
    in fewer requests than events, each entry answered on its own (here: already recorded,
    so no second effect)."""
    tasks = [api.post("/tasks", json={"title": f"batched {n}"}).json() for n in range(10)]
    for task in tasks:
        eventually(lambda t=task: "task.created" in _activity_types(api, t["id"]))
    replays = []
    for task in tasks:
        created = api.get(f"/tasks/{task['id']}/activity").json()["events"][0]
        replays.append(
            {
                "event_id": created["event_id"],
                "event_type": "task.created",
                "task_id": task["id"],
                "title": task["title"],
                "status": "pending",
                "revision": 1,
                "timestamp": datetime.now(UTC).isoformat(),
            }
        )
    before = _deliveries(api, stack)
    entries = [
        {"entryId": str(n), "event": event, "contentType": "application/json"}
        for n, event in enumerate(replays)
    ]
    sidecar = stack.taskapi_sidecar
    url = f"{sidecar.http_url}/v1.0-alpha1/publish/bulk/pubsub/{stack.topic}"
    resp = httpx.post(url, json=entries)
    assert resp.is_success, resp.text
    log = stack.workdir / "taskapi.log"
    eventually(
        lambda: all(
            f"already processed event_id={e['event_id']}" in log.read_text() for e in replays
        )
    )
    delivered = _deliveries(api, stack) - before
    assert 1 <= delivered < len(replays), delivered
    for task in tasks:
        assert _activity_types(api, task["id"]) == ["task.created"]


def test_event_of_a_change_that_was_not_stored_has_no_effect(
    api: httpx.Client, stack: Stack
) -> None:
    """A phantom (as Redis lets through for a transaction whose ETag check failed) is
    verified against the stored task and ignored: no activity, no notification."""
    task = api.post("/tasks", json={"title": "never completed"}).json()
    eventually(lambda: "task.created" in _activity_types(api, task["id"]))
    phantoms = [uuid.uuid4().hex, uuid.uuid4().hex]
    for revision, event_id in zip((1, 2), phantoms, strict=True):
        # one a revision the task has (another event wrote it), one it never reached
        cloud_event = {
            "specversion": "1.0",
            "id": event_id,
            "source": "integration-test",
            "type": "com.dapr.event.sent",
            "datacontenttype": "application/json",
            "data": {
                "event_id": event_id,
                "event_type": "task.completed",
                "task_id": task["id"],
                "title": "never",
                "status": "completed",
                "revision": revision,
                "timestamp": datetime.now(UTC).isoformat(),
            },
        }
        _publish(stack, cloud_event, CLOUDEVENTS_JSON)
    # A genuine event published after the phantoms is handled: so the phantoms were too.
    api.put(f"/tasks/{task['id']}/status", params={"status": "in_progress"}).raise_for_status()
    eventually(lambda: "task.status_changed" in _activity_types(api, task["id"]))
    log = stack.workdir / "taskapi.log"
    eventually(lambda: all(f"not stored event_id={e}" in log.read_text() for e in phantoms))
    assert _activity_types(api, task["id"]) == ["task.created", "task.status_changed"]
    assert _notifications(stack, task["id"]) == []


def test_malformed_event_is_dropped_to_the_dead_letter_topic(
    api: httpx.Client, stack: Stack, redis_server: RedisServer
) -> None:
    marker = uuid.uuid4().hex
    _publish(stack, {"not": "a task event", "marker": marker}, "application/json")
    # DROP makes daprd move the message to the subscription's dead-letter topic: with
    # Redis Streams pub/sub that is a stream of that name in the real Redis.
    eventually(
        lambda: (
            marker.encode() in redis_server.command("XRANGE", f"{stack.topic}-deadletter", "-", "+")
        )
    )
    # The subscription keeps working after it (a poison message does not block the stream).
    task = api.post("/tasks", json={"title": "after poison"}).json()
    eventually(lambda: "task.created" in _activity_types(api, task["id"]))


def test_notification_service_rejects_a_wrong_api_key(stack: Stack) -> None:
    url = f"{stack.taskapi_sidecar.http_url}/v1.0/invoke/{stack.notifier_id}/method/notify"
    body = {
        "event_id": uuid.uuid4().hex,
        "event_type": "task.completed",
        "task_id": "t",
        "title": "x",
        "status": "completed",
        "timestamp": datetime.now(UTC).isoformat(),
    }
    assert httpx.post(url, json=body, headers={"X-API-Key": "wrong"}).status_code == 401
    assert httpx.post(url, json=body).status_code == 401
    assert httpx.post(url, json=body, headers={"X-API-Key": API_KEY}).status_code == 200


def test_a_create_publishes_its_event_and_nothing_else(
    api: httpx.Client, stack: Stack, redis_server: RedisServer
) -> None:
    """`task-events` carries TaskEvents only: the outbox publishes every value a transaction
    writes, so a create writes its index page outside the transaction (pub/sub is Redis
    Streams in every stack, so the topic can be read back), and nothing is dead-lettered."""
    task = api.post("/tasks", json={"title": "look at the topic"}).json()
    eventually(lambda: "task.created" in _activity_types(api, task["id"]))
    stream = redis_server.command("XRANGE", stack.topic, "-", "+", "COUNT", "100000")
    assert stream.count(task["id"].encode()) == 1  # its event, no page
    dead = redis_server.command("XRANGE", f"{stack.topic}-deadletter", "-", "+")
    assert task["id"].encode() not in dead
