"""FastAPI with redis-py directly, no Dapr: the floor the Dapr versions are compared with.

The lesson's "before": the task as a JSON string under ``task:<id>`` and each change's event
appended to a Redis stream (the same Redis feature Dapr's pub/sub uses), in one pipeline
(MULTI/EXEC) per change. Async handlers on one shared connection pool. Only the benchmark
runs it (tools/bench); redis-py is in the ``bench`` extra, never a dependency of app/.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

REDIS_HOST = os.environ.get("BENCH_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("BENCH_REDIS_PORT", "6379"))
STREAM = os.environ.get("BENCH_STREAM", "bench-redis-py-events")
PREFIX = os.environ.get("BENCH_KEY_PREFIX", "redis-py||task:")

pool: aioredis.Redis | None = None


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    global pool  # noqa: PLW0603 - one pool per process, as a user would write it
    pool = aioredis.Redis(host=REDIS_HOST, port=REDIS_PORT, decode_responses=True)
    yield
    await pool.aclose()


app = FastAPI(title="redis-py direct", lifespan=lifespan)


class TaskCreate(BaseModel):
    title: str
    description: str = ""
    priority: int = 3


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _redis() -> aioredis.Redis:
    assert pool is not None
    return pool


async def _save(task: dict[str, Any], event_type: str) -> None:
    async with _redis().pipeline(transaction=True) as pipe:
        pipe.set(PREFIX + task["id"], json.dumps(task))
        pipe.xadd(
            STREAM,
            {"data": json.dumps({"event_type": event_type, "task": task})},
            maxlen=100_000,
            approximate=True,
        )
        await pipe.execute()


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/tasks", status_code=201)
async def create_task(body: TaskCreate) -> dict[str, Any]:
    task = {
        "id": uuid.uuid4().hex,
        **body.model_dump(),
        "status": "pending",
        "created_at": _now(),
        "updated_at": _now(),
    }
    await _save(task, "task.created")
    return task


@app.get("/tasks/{task_id}")
async def get_task(task_id: str) -> dict[str, Any]:
    raw = await _redis().get(PREFIX + task_id)
    if raw is None:
        raise HTTPException(404, "task not found")
    task: dict[str, Any] = json.loads(raw)
    return task


@app.put("/tasks/{task_id}/status")
async def set_status(task_id: str, status: str) -> dict[str, Any]:
    raw = await _redis().get(PREFIX + task_id)
    if raw is None:
        raise HTTPException(404, "task not found")
    task: dict[str, Any] = json.loads(raw)
    task.update(status=status, updated_at=_now())
    await _save(task, "task.completed" if status == "completed" else "task.status_changed")
    return task
