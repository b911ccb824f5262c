"""What this reference notification-service "sends": kept in process memory for inspection.

Deduplication is not done here but durably, across replicas (notifier.claims); a real
service would deliver an e-mail or a webhook at the place this records.
"""

from datetime import UTC, datetime

from notifier.models import Notification, NotifyRequest


class Recorder:
    def __init__(self) -> None:
        self._sent: list[Notification] = []

    def record(self, request: NotifyRequest) -> None:
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
