"""notification-service's idempotent record (pure logic)."""

from __future__ import annotations

from datetime import UTC, datetime

from notifier.models import NotifyRequest
from notifier.recorder import Recorder


def _request(event_id: str, task_id: str = "t1") -> NotifyRequest:
    return NotifyRequest(event_id=event_id, event_type="task.completed", task_id=task_id,
                         title="x", status="completed", timestamp=datetime.now(UTC))


async def test_same_event_is_recorded_once() -> None:
    recorder = Recorder()
    assert await recorder.record(_request("e1"))
    assert not await recorder.record(_request("e1"))
    assert await recorder.record(_request("e2", task_id="t2"))
    [only] = recorder.list("t1")
    assert only.duplicates == 1
    assert len(recorder.list()) == 2
