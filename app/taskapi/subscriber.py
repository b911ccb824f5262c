"""The programmatic subscription to task events: verify, dedup per event id, notify.

Delivery is at least once (the outbox and Redis Streams both redeliver), and on Redis an
event may be a phantom of a rejected write. So an event is a claim checked against the
stored record (taskapi.records.verify) and recorded per event id before it counts as done.
"""

import asyncio
import json
import logging
from enum import StrEnum
from typing import Annotated, Any, Protocol

from dapr.ext.fastapi import DaprApp
from fastapi import Depends, FastAPI, Request
from pydantic import ValidationError

from taskapi.activity import ActivityLog
from taskapi.errors import InvocationError, TaskApiError
from taskapi.index import IndexPage
from taskapi.models import EventType, TaskEvent
from taskapi.records import Verdict, verify
from taskapi.settings import Settings

log = logging.getLogger(__name__)

CLOUDEVENT_DATA = "data"


class Delivery(StrEnum):
    """Answers the Dapr runtime understands (case-sensitive)."""

    SUCCESS = "SUCCESS"
    RETRY = "RETRY"
    DROP = "DROP"


class IndexWrite:
    """An index page on the topic: earlier versions' creates wrote their page in the
    transaction, and the outbox published it. Not an event, skipped without a Dapr call."""


PAGE_FIELDS = frozenset(IndexPage.model_fields)


def parse_message(raw: bytes) -> TaskEvent | IndexWrite | None:
    """The TaskEvent in a CloudEvent's `data` (not the envelope); None when malformed."""
    try:
        envelope = json.loads(raw)
        data: Any = envelope[CLOUDEVENT_DATA]
        if isinstance(data, str | bytes):
            # Payloads without a JSON content type arrive as a string.
            data = json.loads(data)
    except (ValueError, TypeError, KeyError):
        return None
    if isinstance(data, dict) and data.keys() >= PAGE_FIELDS:
        return IndexWrite()  # recognised by its shape: not worth validating every entry
    try:
        return TaskEvent.model_validate(data)
    except ValidationError:
        return None


class Notifier(Protocol):
    async def notify(self, event: TaskEvent) -> None: ...


class EventProcessor:
    def __init__(self, notifier: Notifier, activity: ActivityLog, settings: Settings) -> None:
        self._notifier = notifier
        self._activity = activity
        # The outbox releases events in bursts (its internal topic holds each message about
        # a second, up to the pub/sub's concurrency at once). Handled all at once, a burst
        # of Dapr calls would queue API requests behind it on this event loop; a few at a
        # time, API requests keep their latency and the burst drains just after.
        self._slots = asyncio.Semaphore(settings.event_concurrency)

    async def process(self, raw: bytes) -> Delivery:
        async with self._slots:  # parsing and logging too: a burst is hundreds of them
            return await self._process(raw)

    async def _process(self, raw: bytes) -> Delivery:
        event = parse_message(raw)
        if isinstance(event, IndexWrite):
            return Delivery.SUCCESS
        if event is None:
            log.warning("Dropping malformed task event body=%.200r", raw)
            return Delivery.DROP
        log.info(
            "Received event: %s for task %s event_id=%s revision=%d",
            event.event_type,
            event.task_id,
            event.event_id,
            event.revision,
        )
        try:
            return await self._handle(event)
        except InvocationError as exc:
            log.warning(
                "Notification failed task=%s event_id=%s error=%s",
                event.task_id,
                event.event_id,
                exc,
            )
            return Delivery.RETRY if exc.transient else Delivery.DROP
        except TaskApiError as exc:
            log.warning("Event not processed, will retry event_id=%s error=%s", event.event_id, exc)
            return Delivery.RETRY

    async def _handle(self, event: TaskEvent) -> Delivery:
        seen = await self._activity.look(event)
        if seen.recorded:
            log.info("Event already processed event_id=%s task=%s", event.event_id, event.task_id)
            return Delivery.SUCCESS
        verdict = verify(seen.record, event)
        if verdict == Verdict.PHANTOM:
            # A rejected write's event (Redis applies the rest of a failed transaction):
            # it describes no stored change, so it has no effect.
            log.info(
                "Ignoring event of a change that was not stored event_id=%s task=%s revision=%d",
                event.event_id,
                event.task_id,
                event.revision,
            )
            return Delivery.SUCCESS
        if verdict == Verdict.UNVERIFIABLE:
            log.warning(
                "Event too old to verify, acting on it event_id=%s task=%s",
                event.event_id,
                event.task_id,
            )
        if event.event_type == EventType.COMPLETED:
            # notification-service deduplicates durably by event id, so a crash between
            # this call and the record below repeats the call without a second notification.
            await self._notifier.notify(event)
            log.info("Notification sent for task %s event_id=%s", event.task_id, event.event_id)
        await self._activity.record_once(event, seen)
        return Delivery.SUCCESS


async def processor(request: Request) -> EventProcessor:
    """The dependency the subscription route is served with (built in the lifespan)."""
    found: EventProcessor = request.app.state.processor
    return found


def subscribe(app: FastAPI, settings: Settings) -> None:
    """Register the handler with the FastAPI extension (GET /dapr/subscribe lists it)."""
    dapr_app = DaprApp(app)

    async def on_task_event(
        request: Request, events: Annotated[EventProcessor, Depends(processor)]
    ) -> dict[str, str]:
        # The raw body, not a pydantic parameter: a malformed event must get DROP, whereas
        # FastAPI's 422 would make Dapr redeliver it.
        outcome = await events.process(await request.body())
        return {"status": outcome.value}

    dapr_app.subscribe(
        pubsub=settings.pubsub,
        topic=settings.topic,
        dead_letter_topic=settings.dead_letter_topic,
    )(on_task_event)
