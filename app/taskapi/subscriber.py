"""The programmatic subscription to task events: dedup per event id, notify on completion."""

import json
import logging
from enum import StrEnum
from typing import Any

from dapr.ext.fastapi import DaprApp
from fastapi import FastAPI, Request
from pydantic import ValidationError

from taskapi.dapr_io import DaprIO
from taskapi.errors import InvocationError, TaskApiError
from taskapi.models import EventType, ReceivedEvent, TaskActivity, TaskEvent, utcnow
from taskapi.settings import Settings
from taskapi.store import TaskStore

log = logging.getLogger(__name__)

CLOUDEVENT_DATA = "data"


class Delivery(StrEnum):
    """Answers the Dapr runtime understands (case-sensitive)."""

    SUCCESS = "SUCCESS"
    RETRY = "RETRY"
    DROP = "DROP"


def parse_event(raw: bytes) -> TaskEvent | None:
    """The TaskEvent in a CloudEvent's `data` (not the envelope); None when malformed."""
    try:
        envelope = json.loads(raw)
        data: Any = envelope[CLOUDEVENT_DATA]
        if isinstance(data, str | bytes):
            # Publishers that did not declare JSON content get their payload as a string.
            data = json.loads(data)
        return TaskEvent.model_validate(data)
    except (ValueError, TypeError, KeyError, ValidationError):
        return None


def with_event(activity: TaskActivity | None, event: TaskEvent) -> TaskActivity | None:
    """The activity with `event` recorded once; None when it is already there (no write)."""
    if activity is not None and activity.has(event.event_id):
        return None
    base = activity or TaskActivity(task_id=event.task_id)
    received = ReceivedEvent(event_id=event.event_id, event_type=event.event_type,
                             received_at=utcnow())
    return base.model_copy(update={"events": [*base.events, received]})


class EventProcessor:
    def __init__(self, io: DaprIO, store: TaskStore) -> None:
        self._io = io
        self._store = store

    async def process(self, raw: bytes) -> Delivery:
        event = parse_event(raw)
        if event is None:
            log.warning("dropping malformed task event: %.200r", raw)
            return Delivery.DROP
        try:
            seen = await self._store.activity(event.task_id)
            if seen is not None and seen.has(event.event_id):
                log.info("event %s already processed", event.event_id)
                return Delivery.SUCCESS
            if event.event_type == EventType.COMPLETED:
                # Notify before recording: a crash in between repeats the call, which the
                # notification-service deduplicates, instead of losing the notification.
                await self._io.notify(event)
            await self._store.record_activity(
                event.task_id, lambda a: with_event(a, event),
                expire=event.event_type == EventType.DELETED,
            )
        except InvocationError as exc:
            log.warning("notification for event %s failed: %s", event.event_id, exc)
            return Delivery.RETRY if exc.transient else Delivery.DROP
        except TaskApiError as exc:
            log.warning("event %s not processed, will retry: %s", event.event_id, exc)
            return Delivery.RETRY
        return Delivery.SUCCESS


def subscribe(app: FastAPI, settings: Settings) -> None:
    """Register the handler with the FastAPI extension (GET /dapr/subscribe lists it)."""
    dapr_app = DaprApp(app)

    async def on_task_event(request: Request) -> dict[str, str]:
        # The raw body, not a pydantic parameter: a malformed event must get DROP, whereas
        # FastAPI's 422 would make Dapr redeliver it.
        processor: EventProcessor = request.app.state.processor
        outcome = await processor.process(await request.body())
        return {"status": outcome.value}

    dapr_app.subscribe(
        pubsub=settings.pubsub, topic=settings.topic,
        dead_letter_topic=settings.dead_letter_topic,
    )(on_task_event)
