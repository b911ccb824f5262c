"""A minimal notification-service for the seed lesson's app (the lesson names it but does
not write it): POST /notify records the task id and when it arrived, GET /notifications
lists them (``after=``: those since a sequence number), in the shape the reference
notification-service lists its own.

Behind its own daprd (app id BENCH_NOTIFY_APP_ID), so the lesson's ``invoke_method`` goes
through Dapr service invocation as it would in the cluster. Bounded record, as the
reference one's. Only the benchmark runs it (tools/bench).
"""

from __future__ import annotations

import itertools
from collections import deque
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request

LIMIT = 100_000

app = FastAPI(title="seed notification-service")
received: deque[dict[str, Any]] = deque(maxlen=LIMIT)
sequence = itertools.count(1)


@app.post("/notify")
async def notify(request: Request) -> dict[str, bool]:
    body = await request.json()
    received.append(
        {
            "seq": next(sequence),
            "event_id": body.get("task_id", ""),  # the lesson's payload carries no event id
            "task_id": body.get("task_id", ""),
            "event_type": "task.completed" if body.get("type") == "task_completed" else "",
            "received_at": datetime.now(UTC).isoformat(),
        }
    )
    return {"recorded": True}


@app.get("/notifications")
async def notifications(task_id: str | None = None, after: int = 0) -> list[dict[str, Any]]:
    new = reversed(list(itertools.takewhile(lambda n: n["seq"] > after, reversed(received))))
    return [n for n in new if task_id is None or n["task_id"] == task_id]


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
