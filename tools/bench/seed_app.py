"""The seed lesson's pattern, as a user would write it from the tutorial: the baseline.

Synchronous handlers (FastAPI runs them in its thread pool) and a new ``DaprClient()`` per
request, closed by ``with``; each change is a ``save_state`` and then a ``publish_event``,
two separate calls. Same Dapr components (names from the environment) as the Task API.
Only the benchmark runs it (tools/bench), never a deployment.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from typing import Any

from dapr.clients import DaprClient
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

STORE = os.environ.get("BENCH_STATE_STORE", "statestore")
PUBSUB = os.environ.get("BENCH_PUBSUB", "pubsub")
TOPIC = os.environ.get("BENCH_TOPIC", "task-events")

app = FastAPI(title="seed lesson pattern")


class TaskCreate(BaseModel):
    title: str
    description: str = ""
    priority: int = 3


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _publish(client: DaprClient, event_type: str, task: dict[str, Any]) -> None:
    client.publish_event(
        PUBSUB,
        TOPIC,
        json.dumps({"event_type": event_type, "task": task}),
        data_content_type="application/json",
    )


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/tasks", status_code=201)
def create_task(body: TaskCreate) -> dict[str, Any]:
    task = {
        "id": uuid.uuid4().hex,
        **body.model_dump(),
        "status": "pending",
        "created_at": _now(),
        "updated_at": _now(),
    }
    with DaprClient() as client:
        client.save_state(STORE, task["id"], json.dumps(task))
        _publish(client, "task.created", task)
    return task


@app.get("/tasks/{task_id}")
def get_task(task_id: str) -> dict[str, Any]:
    with DaprClient() as client:
        item = client.get_state(STORE, task_id)
    if not item.data:
        raise HTTPException(404, "task not found")
    task: dict[str, Any] = json.loads(item.data)
    return task


@app.put("/tasks/{task_id}/status")
def set_status(task_id: str, status: str) -> dict[str, Any]:
    with DaprClient() as client:
        item = client.get_state(STORE, task_id)
        if not item.data:
            raise HTTPException(404, "task not found")
        task: dict[str, Any] = json.loads(item.data)
        task.update(status=status, updated_at=_now())
        client.save_state(STORE, task_id, json.dumps(task))
        _publish(client, "task.completed" if status == "completed" else "task.status_changed", task)
    return task
