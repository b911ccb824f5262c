"""What this reference notification-service "sends": the most recent ones, kept in memory
for inspection, with counts of all of them.

Bounded (``record_limit``): under sustained load an unbounded list grew the process by tens
of MiB in minutes. Deduplication is not done here but durably, across replicas
(notifier.claims); a real service would deliver an e-mail or a webhook where this records.
"""

from collections import Counter, deque
from datetime import UTC, datetime

from notifier.models import Notification, NotifyRequest


class Recorder:
    def __init__(self, limit: int) -> None:
        self._sent: deque[Notification] = deque(maxlen=limit)
        self.counts: Counter[str] = Counter()  # by event type, since the process started

    def record(self, request: NotifyRequest) -> None:
        self.counts[request.event_type] += 1
        self._sent.append(
            Notification(
                event_id=request.event_id,
                task_id=request.task_id,
                event_type=request.event_type,
                title=request.title,
                received_at=datetime.now(UTC),
            )
        )

    def list(self, task_id: str | None = None) -> list[Notification]:
        return [n for n in self._sent if task_id is None or n.task_id == task_id]
