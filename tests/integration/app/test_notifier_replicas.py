"""Exactly one notification per completion across notifier replicas, restarts and redelivery.

Two notification-service processes, each with its own real daprd, under one app id and one
state store. Their dedup is a first-write claim per event id in Dapr state, not memory.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from harness.taskapi_stack import API_KEY, App, Stack
from harness.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def replicas(stack: Stack) -> list[App]:
    """The stack's notifier and a second replica (stopped with the stack)."""
    second, _ = stack.add_notifier_replica("notifier-2")
    return [stack.notifier, second]


def _sent(replicas: list[App], task_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for app in replicas:
        resp = httpx.get(f"{app.url}/notifications", params={"task_id": task_id}, timeout=10)
        resp.raise_for_status()
        found += resp.json()
    return found


def _notify(app: App, event: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{app.url}/notify", json=event, headers={"X-API-Key": API_KEY}, timeout=20)


def test_completion_notifies_once_with_two_replicas_and_forced_redelivery(
    api: httpx.Client, stack: Stack, replicas: list[App]
) -> None:
    task = api.post("/tasks", json={"title": "notify exactly once"}).json()
    done = api.put(f"/tasks/{task['id']}/status", params={"status": "completed"})
    assert done.status_code == 200, done.text
    [note] = eventually(lambda: _sent(replicas, task["id"]), timeout=60)
    event = {
        "event_id": note["event_id"],
        "event_type": "task.completed",
        "task_id": task["id"],
        "title": task["title"],
        "status": "completed",
        "revision": done.json()["revision"],
        "timestamp": datetime.now(UTC).isoformat(),
    }

    # Redelivery to each replica (the one that sent and the other), then through Dapr.
    for app in replicas:
        resp = _notify(app, event)
        assert resp.status_code == 200, resp.text
        assert resp.json() == {"event_id": note["event_id"], "recorded": False}
    via_dapr = f"{stack.taskapi_sidecar.http_url}/v1.0/invoke/{stack.notifier_id}/method/notify"
    for _ in range(4):
        resp = httpx.post(via_dapr, json=event, headers={"X-API-Key": API_KEY}, timeout=20)
        assert resp.status_code == 200, resp.text
        assert resp.json()["recorded"] is False

    assert len(_sent(replicas, task["id"])) == 1

    # A restarted replica forgets its memory, not the claim: it sends nothing again.
    other = _sent(replicas[1:], task["id"])
    replicas[0].stop()
    replicas[0].start()
    replicas[0].wait_ready()
    assert _notify(replicas[0], event).json()["recorded"] is False
    assert _sent(replicas[:1], task["id"]) == []
    assert _sent(replicas[1:], task["id"]) == other
    for app in replicas:
        log = (app.workdir / f"{app.name}.log").read_text()
        assert f"Duplicate notification ignored event_id={note['event_id']}" in log
    # The second replica logs JSON lines (NOTIFIER_LOG_FORMAT=json): one object per line.
    lines = (replicas[1].workdir / f"{replicas[1].name}.log").read_text().splitlines()
    records = [json.loads(line) for line in lines if not line.startswith("$ ")]  # harness
    assert any(r["msg"].startswith("Duplicate notification ignored") for r in records)


async def test_the_same_event_racing_to_both_replicas_is_sent_once(replicas: list[App]) -> None:
    task_id = uuid.uuid4().hex
    event = {
        "event_id": uuid.uuid4().hex,
        "event_type": "task.completed",
        "task_id": task_id,
        "title": "race",
        "status": "completed",
        "revision": 2,
        "timestamp": datetime.now(UTC).isoformat(),
    }
    async with httpx.AsyncClient(headers={"X-API-Key": API_KEY}, timeout=20) as client:
        answers = await asyncio.gather(
            *(client.post(f"{app.url}/notify", json=event) for app in replicas for _ in range(5))
        )
    recorded = [r.json()["recorded"] for r in answers if r.status_code == 200]
    # 503 = another replica holds the claim right now (the caller retries later).
    assert all(r.status_code in (200, 503) for r in answers), [r.text for r in answers]
    assert recorded.count(True) == 1
    assert len(_sent(replicas, task_id)) == 1
    # Afterwards every redelivery is a duplicate.
    for app in replicas:
        assert _notify(app, event).json()["recorded"] is False
