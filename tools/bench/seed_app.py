"""The seed lesson's app as it writes it (main.py + models.py of /work/shared/seed-lesson.txt
in one file): the baseline, including its subscription handler.

Sync handlers (FastAPI runs them in its thread pool), a new ``DaprClient()`` per request,
``save_state`` then ``publish_event`` as two separate calls, and the programmatic
subscription that logs every event and invokes ``notification-service`` on
``task.completed``. Deviations, each needed to run it here and nothing else:

- names come from the environment (BENCH_*), so runs never share a topic or an app id;
- THE ONE-LINE FIX: as printed, the handler reads ``event_type`` from the CloudEvent
  envelope dapr's FastAPI extension passes it, so it logs ``Received event: unknown for task
  unknown`` and never notifies (seen on daprd 1.17). The line marked ``FIX`` reads the
  envelope's ``data`` first.

Only the benchmark runs it (tools/bench), never a deployment.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from enum import Enum

from dapr.clients import DaprClient
from dapr.ext.fastapi import DaprApp
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

# Names match component metadata.name in YAML
STORE_NAME = os.environ.get("BENCH_STATE_STORE", "statestore")
PUBSUB_NAME = os.environ.get("BENCH_PUBSUB", "pubsub")
TOPIC_NAME = os.environ.get("BENCH_TOPIC", "task-events")
NOTIFY_APP_ID = os.environ.get("BENCH_NOTIFY_APP_ID", "notification-service")


class TaskStatus(str, Enum):  # noqa: UP042 - as the lesson writes it
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class TaskCreate(BaseModel):
    title: str = Field(..., min_length=1, max_length=200)
    description: str | None = None
    priority: int = Field(default=1, ge=1, le=5)


class Task(BaseModel):
    id: str
    title: str
    description: str | None = None
    status: TaskStatus = TaskStatus.PENDING
    priority: int = 1
    created_at: datetime
    updated_at: datetime


class TaskEvent(BaseModel):
    event_type: str
    task_id: str
    title: str
    status: str
    timestamp: datetime


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Block startup until the Dapr sidecar is ready."""
    with DaprClient() as client:
        client.wait(timeout_s=30)
    yield


app = FastAPI(title="Task API with Dapr", lifespan=lifespan)
dapr_app = DaprApp(app)


@app.post("/tasks", response_model=Task, status_code=201)
def create_task(task_create: TaskCreate) -> Task:
    """Create task, save state, publish event."""
    now = datetime.utcnow()
    task = Task(
        id=str(uuid.uuid4()),
        title=task_create.title,
        description=task_create.description,
        priority=task_create.priority,
        created_at=now,
        updated_at=now,
    )
    with DaprClient() as client:
        client.save_state(
            store_name=STORE_NAME, key=f"task-{task.id}", value=task.model_dump_json()
        )
        event = TaskEvent(
            event_type="task.created",
            task_id=task.id,
            title=task.title,
            status=task.status.value,
            timestamp=now,
        )
        client.publish_event(
            pubsub_name=PUBSUB_NAME,
            topic_name=TOPIC_NAME,
            data=event.model_dump_json(),
            data_content_type="application/json",
        )
    return task


@app.get("/tasks/{task_id}", response_model=Task)
def get_task(task_id: str) -> Task:
    """Retrieve task from Dapr state store."""
    with DaprClient() as client:
        state = client.get_state(store_name=STORE_NAME, key=f"task-{task_id}")
    if not state.data:
        raise HTTPException(status_code=404, detail="Task not found")
    return Task.model_validate_json(state.data)


@app.put("/tasks/{task_id}/status", response_model=Task)
def update_task_status(task_id: str, status: TaskStatus) -> Task:
    """Update status with ETag concurrency, publish event."""
    with DaprClient() as client:
        state = client.get_state(store_name=STORE_NAME, key=f"task-{task_id}")
        if not state.data:
            raise HTTPException(status_code=404, detail="Task not found")
        task = Task.model_validate_json(state.data)
        task.status = status
        task.updated_at = datetime.utcnow()
        # ETag ensures no concurrent overwrites
        client.save_state(
            store_name=STORE_NAME,
            key=f"task-{task_id}",
            value=task.model_dump_json(),
            etag=state.etag,
        )
        event = TaskEvent(
            event_type=f"task.{status.value}",
            task_id=task.id,
            title=task.title,
            status=status.value,
            timestamp=task.updated_at,
        )
        client.publish_event(
            pubsub_name=PUBSUB_NAME,
            topic_name=TOPIC_NAME,
            data=event.model_dump_json(),
            data_content_type="application/json",
        )
    return task


@dapr_app.subscribe(pubsub=PUBSUB_NAME, topic=TOPIC_NAME)  # type: ignore[untyped-decorator]
def handle_task_event(event_data: dict) -> dict[str, str]:  # type: ignore[type-arg]
    """On task.completed, invoke notification-service via Dapr."""
    event_data = event_data.get("data", event_data)  # FIX: the event is the envelope's data
    event_type = event_data.get("event_type", "unknown")
    task_id = event_data.get("task_id", "unknown")
    print(f"Received event: {event_type} for task {task_id}")
    if event_type == "task.completed":
        with DaprClient() as client:
            try:
                client.invoke_method(
                    app_id=NOTIFY_APP_ID,
                    method_name="notify",
                    data=json.dumps(
                        {
                            "type": "task_completed",
                            "task_id": task_id,
                            "message": f"Task {task_id} completed",
                        }
                    ),
                    http_verb="POST",
                )
                print(f"Notification sent for task {task_id}")
            except Exception as e:
                print(f"Notification failed: {e}")
    return {"status": "SUCCESS"}


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "healthy"}
