"""The Task API's data shapes: request bodies, the stored task, its events and list pages."""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Self
from uuid import uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

Title = Annotated[str, Field(min_length=1, max_length=200)]
Description = Annotated[str, Field(max_length=2000)]
Priority = Annotated[int, Field(ge=1, le=5)]


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid4().hex


class TaskStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class EventType(StrEnum):
    CREATED = "task.created"
    STATUS_CHANGED = "task.status_changed"
    COMPLETED = "task.completed"
    DELETED = "task.deleted"


class TaskCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Description = ""
    priority: Priority = 3


class TaskUpdate(BaseModel):
    """Partial update; status has its own endpoint because changing it publishes an event."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: Description | None = None
    priority: Priority | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("give at least one of: title, description, priority")
        return self


class Task(BaseModel):
    id: str
    title: Title
    description: Description = ""
    status: TaskStatus = TaskStatus.PENDING
    priority: Priority = 3
    created_at: AwareDatetime
    updated_at: AwareDatetime
    # Incremented by every successful write: lets clients (and tests) see that no update
    # was lost, independently of the store's ETag format.
    revision: int = Field(default=1, ge=1)


class TaskEvent(BaseModel):
    """Published as the JSON `data` of a CloudEvent; event_id survives publisher retries."""

    event_id: str = Field(default_factory=new_id, min_length=1)
    event_type: EventType
    task_id: str = Field(min_length=1)
    title: str
    status: TaskStatus
    timestamp: AwareDatetime


class TaskPage(BaseModel):
    items: list[Task]
    # Opaque position after the last entry scanned; None when the listing is complete.
    next_cursor: str | None
    limit: int


class ReceivedEvent(BaseModel):
    event_id: str
    event_type: EventType
    received_at: AwareDatetime


class TaskActivity(BaseModel):
    """What the subscription processed for one task: the observable effect and dedup record."""

    task_id: str
    events: list[ReceivedEvent] = Field(default_factory=list)

    def has(self, event_id: str) -> bool:
        return any(e.event_id == event_id for e in self.events)
