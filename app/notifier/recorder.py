"""What this reference notification-service "sends": the most recent ones, kept in memory
for inspection, with counts of all of them.

Bounded (``record_limit``): under sustained load an unbounded list grew the process by tens
of MiB in minutes. Each notification has a sequence number, so a reader that follows the
record (``after=``) fetches only what is new and misses nothing that was evicted after it
read it. Deduplication is not done here but durably, across replicas (notifier.claims); a
real service would deliver an e-mail or a webhook where this records.
"""

from collections import Counter, deque
from datetime import UTC, datetime
from itertools import takewhile

from notifier.models import Notification, NotifyRequest


class Recorder:
    def __init__(self, limit: int) -> None:
        self._sent: deque[Notification] = deque(maxlen=limit)
        self._seq = 0
        self.counts: Counter[str] = Counter()  # by event type, since the process started

    def record(self, request: NotifyRequest) -> None:
        self.counts[request.event_type] += 1
        self._seq += 1
        self._sent.append(
            Notification(
                seq=self._seq,
                event_id=request.event_id,
                task_id=request.task_id,
                event_type=request.event_type,
                title=request.title,
                received_at=datetime.now(UTC),
            )
        )

    def list(self, task_id: str | None = None, after: int = 0) -> list[Notification]:
        """Oldest first; with ``after``, only those recorded since that sequence number
        (read from the newest end, so following the record costs what is new, not its size)."""
        recent = reversed(list(takewhile(lambda n: n.seq > after, reversed(self._sent))))
        return [n for n in recent if task_id is None or n.task_id == task_id]
