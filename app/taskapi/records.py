"""What a task key holds in the state store, and how an event is checked against it.

A record carries the ids of the last events written with it. That is what lets a
subscriber tell a real change from a phantom: on Redis a transaction whose ETag check
failed is still half applied and its outbox event still published (see docs/task-api.md, "Events").
"""

from enum import StrEnum

from pydantic import BaseModel, Field

from taskapi.models import Task, TaskEvent

# Events remembered per task: a subscriber that falls this many writes of one task behind
# can no longer prove an event phantom and treats it as real (logged).
RECENT_EVENTS = 32


class Written(BaseModel):
    revision: int = Field(ge=1)
    event_id: str


class TaskRecord(BaseModel):
    task: Task
    # A deleted task stays a tombstone for a while (with a TTL): a racing update finds it
    # and gets 404 instead of resurrecting it (an ETag on a missing key is not checked).
    deleted: bool = False
    events: list[Written] = Field(default_factory=list, max_length=RECENT_EVENTS)

    def wrote(self, task: Task, event_id: str, *, deleted: bool = False) -> "TaskRecord":
        """The next record: `task` written by the change announced as `event_id`."""
        history = [*self.events, Written(revision=task.revision, event_id=event_id)]
        return TaskRecord(task=task, deleted=deleted, events=history[-RECENT_EVENTS:])

    @classmethod
    def first(cls, task: Task, event_id: str) -> "TaskRecord":
        return cls(task=task, events=[Written(revision=task.revision, event_id=event_id)])


class Verdict(StrEnum):
    GENUINE = "genuine"
    PHANTOM = "phantom"
    # Older than the remembered window: cannot be disproved, so it is acted on.
    UNVERIFIABLE = "unverifiable"


def verify(record: TaskRecord | None, event: TaskEvent) -> Verdict:
    """Was `event` written together with its change? Decided from the stored record only.

    The outbox publishes only events whose transaction ran; a genuine one wrote its id into
    the record at its revision. A record that never reached that revision, or remembers a
    different event there, proves the event a phantom of a rejected write.
    """
    if record is None or record.task.id != event.task_id:
        return Verdict.PHANTOM
    if record.task.revision < event.revision:
        return Verdict.PHANTOM
    if any(w.event_id == event.event_id and w.revision == event.revision for w in record.events):
        return Verdict.GENUINE
    oldest = min((w.revision for w in record.events), default=record.task.revision + 1)
    return Verdict.PHANTOM if event.revision >= oldest else Verdict.UNVERIFIABLE
