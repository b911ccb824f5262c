"""The programmatic subscription to task events: verify, dedup per event id, notify.

Delivery is at least once (the outbox and Redis Streams both redeliver), and on Redis an
event may be a phantom of a rejected write. So an event is a claim checked against the
stored record (taskapi.records.verify) and recorded per event id before it counts as done.

The subscription is a bulk one (Dapr's ``bulkSubscribe``): daprd hands over up to
``TASKAPI_EVENT_BATCH_MAX`` events per request, gathered for at most
``TASKAPI_EVENT_BATCH_WAIT_MS``, and the app answers a status per entry. A batch costs one
read for all its tasks' activities and records, and one write per task (a task's creation
and completion usually arrive in one batch), where single deliveries cost a request, a read
and a write per event. A single CloudEvent posted to the route is still served (a
declarative Subscription without bulk, or an older runtime).
"""

import asyncio
import json
import logging
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any, Protocol

from fastapi import Depends, FastAPI, Request
from pydantic import ValidationError

from taskapi.activity import ActivityLog, Sighting
from taskapi.errors import InvocationError, TaskApiError
from taskapi.index import IndexPage
from taskapi.models import EventType, TaskEvent
from taskapi.records import Verdict, verify
from taskapi.settings import Settings

log = logging.getLogger(__name__)

CLOUDEVENT_DATA = "data"
# The bulk envelope daprd posts (pkg/runtime/pubsub/bulksubscribe_events.go) and the answer
# it reads (components-contrib pubsub.AppBulkResponse).
BULK_ENTRIES, ENTRY_ID, ENTRY_EVENT, BULK_STATUSES = "entries", "entryId", "event", "statuses"


class Delivery(StrEnum):
    """Answers the Dapr runtime understands (case-sensitive)."""

    SUCCESS = "SUCCESS"
    RETRY = "RETRY"
    DROP = "DROP"


class IndexWrite:
    """An index page on the topic: earlier versions' creates wrote their page in the
    transaction, and the outbox published it. Not an event, skipped without a Dapr call."""


PAGE_FIELDS = frozenset(IndexPage.model_fields)


def parse_event(cloud_event: Any) -> TaskEvent | IndexWrite | None:
    """The TaskEvent in a decoded CloudEvent's `data` (not the envelope); None when malformed."""
    try:
        data: Any = cloud_event[CLOUDEVENT_DATA]
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
        # of Dapr calls would queue API requests behind it on this event loop; a few tasks
        # at a time, API requests keep their latency and the burst drains just after.
        self._slots = asyncio.Semaphore(settings.event_concurrency)

    async def process(self, cloud_event: Any) -> Delivery:
        """One delivery (a decoded CloudEvent)."""
        return (await self.process_batch([cloud_event]))[0]

    async def process_batch(self, cloud_events: Sequence[Any]) -> list[Delivery]:
        """The answer for each of a batch's CloudEvents, in order.

        One read fetches every task's activity and record; each task's events are then
        handled together (one activity write), a few tasks at a time.
        """
        outcomes = [Delivery.SUCCESS] * len(cloud_events)
        by_task: dict[str, list[tuple[int, TaskEvent]]] = {}
        for i, cloud_event in enumerate(cloud_events):
            event = parse_event(cloud_event)
            if isinstance(event, IndexWrite):
                continue
            if event is None:
                log.warning("Dropping malformed task event body=%.200r", cloud_event)
                outcomes[i] = Delivery.DROP
                continue
            log.info(
                "Received event: %s for task %s event_id=%s revision=%d",
                event.event_type,
                event.task_id,
                event.event_id,
                event.revision,
            )
            by_task.setdefault(event.task_id, []).append((i, event))
        if not by_task:
            return outcomes
        try:
            seen = await self._activity.look(list(by_task))
        except TaskApiError as exc:
            log.warning("Events not processed, will retry count=%d error=%s", len(by_task), exc)
            for numbered in by_task.values():
                for i, _ in numbered:
                    outcomes[i] = Delivery.RETRY
            return outcomes

        async def one_task(numbered: list[tuple[int, TaskEvent]]) -> None:
            async with self._slots:
                answers = await self._handle([e for _, e in numbered], seen[numbered[0][1].task_id])
            for (i, _), answer in zip(numbered, answers, strict=True):
                outcomes[i] = answer

        await asyncio.gather(*(one_task(numbered) for numbered in by_task.values()))
        return outcomes

    async def _handle(self, events: list[TaskEvent], seen: Sighting) -> list[Delivery]:
        """One task's events of a batch: each verified and acted on, then the ones acted on
        recorded together. A failed notification leaves its event unrecorded, for the
        redelivery to try again."""
        answers: dict[str, Delivery] = {}
        done: list[TaskEvent] = []
        for event in sorted(events, key=lambda e: e.revision):
            if event.event_id in answers:  # the same event twice in one batch
                continue
            answers[event.event_id], acted = await self._act(event, seen)
            if acted:
                done.append(event)
        if done:
            try:
                await self._activity.record_once(done, seen)
            except TaskApiError as exc:
                for event in done:
                    log.warning(
                        "Event not processed, will retry event_id=%s error=%s", event.event_id, exc
                    )
                    answers[event.event_id] = Delivery.RETRY
        return [answers[e.event_id] for e in events]

    async def _act(self, event: TaskEvent, seen: Sighting) -> tuple[Delivery, bool]:
        """The answer for ``event``, and whether it had its effect (so is to be recorded)."""
        if seen.recorded(event):
            log.info("Event already processed event_id=%s task=%s", event.event_id, event.task_id)
            return Delivery.SUCCESS, False
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
            return Delivery.SUCCESS, False
        if verdict == Verdict.UNVERIFIABLE:
            log.warning(
                "Event too old to verify, acting on it event_id=%s task=%s",
                event.event_id,
                event.task_id,
            )
        if event.event_type == EventType.COMPLETED:
            # notification-service deduplicates durably by event id, so a crash between
            # this call and the record after it repeats the call without a second
            # notification.
            try:
                await self._notifier.notify(event)
            except InvocationError as exc:
                log.warning(
                    "Notification failed task=%s event_id=%s error=%s",
                    event.task_id,
                    event.event_id,
                    exc,
                )
                return (Delivery.RETRY if exc.transient else Delivery.DROP), False
            except TaskApiError as exc:
                log.warning(
                    "Event not processed, will retry event_id=%s error=%s", event.event_id, exc
                )
                return Delivery.RETRY, False
            log.info("Notification sent for task %s event_id=%s", event.task_id, event.event_id)
        return Delivery.SUCCESS, True


async def processor(request: Request) -> EventProcessor:
    """The dependency the subscription route is served with (built in the lifespan)."""
    found: EventProcessor = request.app.state.processor
    return found


def subscription(settings: Settings) -> dict[str, Any]:
    """The subscription as GET /dapr/subscribe lists it. dapr-ext-fastapi's ``DaprApp``
    (dapr 1.19) has no bulk option, so the app declares it itself."""
    return {
        "pubsubname": settings.pubsub,
        "topic": settings.topic,
        "route": f"/events/{settings.pubsub}/{settings.topic}",
        "metadata": {},
        "deadLetterTopic": settings.dead_letter_topic,
        "bulkSubscribe": {
            "enabled": True,
            "maxMessagesCount": settings.event_batch_max,
            "maxAwaitDurationMs": settings.event_batch_wait_ms,
        },
    }


def subscribe(app: FastAPI, settings: Settings) -> None:
    """Serve GET /dapr/subscribe and the subscription's route."""
    declared = subscription(settings)

    async def list_subscriptions() -> list[dict[str, Any]]:
        return [declared]

    async def on_task_events(
        request: Request, events: Annotated[EventProcessor, Depends(processor)]
    ) -> dict[str, Any]:
        # The raw body, not a pydantic parameter: a malformed event must get DROP, whereas
        # FastAPI's 422 would make Dapr redeliver it.
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        entries = body.get(BULK_ENTRIES) if isinstance(body, dict) else None
        if not isinstance(entries, list):  # one CloudEvent (or nothing readable): one answer
            return {"status": (await events.process(body)).value}
        ids = [e.get(ENTRY_ID) if isinstance(e, dict) else None for e in entries]
        found = [e.get(ENTRY_EVENT) if isinstance(e, dict) else None for e in entries]
        outcomes = await events.process_batch(found)
        return {
            BULK_STATUSES: [
                {ENTRY_ID: i, "status": o.value} for i, o in zip(ids, outcomes, strict=True) if i
            ]
        }

    app.add_api_route("/dapr/subscribe", list_subscriptions, methods=["GET"], tags=["PubSub"])
    app.add_api_route(declared["route"], on_task_events, methods=["POST"], tags=["PubSub"])
