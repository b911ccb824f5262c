"""Sidecar and callee outages: 503 problem responses, recovery, and RETRY of notifications."""

from __future__ import annotations

import httpx
import pytest

from harness.taskapi_stack import Stack
from harness.waiting import eventually

pytestmark = pytest.mark.integration


def test_stopped_sidecar_gives_503_then_recovers(api: httpx.Client, stack: Stack) -> None:
    task = api.post("/tasks", json={"title": "survives"}).json()
    stack.taskapi_sidecar.stop()
    try:
        for method, path in (
            ("GET", f"/tasks/{task['id']}"),
            ("GET", "/tasks"),
            ("POST", "/tasks"),
        ):
            resp = api.request(method, path, json={"title": "x"} if method == "POST" else None)
            assert resp.status_code == 503, resp.text
            assert resp.headers["content-type"] == "application/problem+json"
            assert "Dapr" in resp.json()["detail"]
            assert "Traceback" not in resp.text
        assert api.get("/ready").status_code == 503
        assert api.get("/health").status_code == 200
    finally:
        stack.restart_taskapi_sidecar()
    eventually(lambda: api.get("/ready").status_code == 200, timeout=60)
    assert api.get(f"/tasks/{task['id']}").json()["title"] == "survives"


def test_notification_is_retried_while_the_callee_is_down(api: httpx.Client, stack: Stack) -> None:
    task = api.post("/tasks", json={"title": "notify later"}).json()
    eventually(lambda: api.get(f"/tasks/{task['id']}/activity").status_code == 200)
    stack.notifier.stop()
    try:
        api.put(f"/tasks/{task['id']}/status", params={"status": "completed"}).raise_for_status()
        # The handler answers RETRY while the invocation fails: not recorded as processed.
        with pytest.raises(TimeoutError):
            eventually(
                lambda: (
                    "task.completed"
                    in [
                        e["event_type"]
                        for e in api.get(f"/tasks/{task['id']}/activity").json()["events"]
                    ]
                ),
                timeout=3,
            )
    finally:
        stack.notifier.start()
    notes = eventually(
        lambda: httpx.get(
            f"{stack.notifier.url}/notifications", params={"task_id": task["id"]}
        ).json(),
        timeout=60,
    )
    assert len(notes) == 1
