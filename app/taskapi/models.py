"""The Task API's data shapes: request bodies, the stored task, its events and list pages.

Request models reject everything that could not be stored and read back: an explicit null
for a field that is never null is a 422, not a stored document every later read chokes on.
"""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Self
from uuid import uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

Title = Annotated[str, Field(min_length=1, max_length=200)]
Description = Annotated[str, Field(max_length=2000)]
Priority = Annotated[int, Field(ge=1, le=5)]
# Ids are minted by the server (uuid4 hex); anything else cannot name a task.
TASK_ID_PATTERN = r"^[0-9a-f]{32}$"
TaskId = Annotated[str, Field(pattern=TASK_ID_PATTERN)]


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


def _no_null_defaults(schema: dict[str, Any]) -> None:
    # Left out means "keep": the schema must not advertise null as a value, and an update
    # names at least one field.
    for prop in schema.get("properties", {}).values():
        prop.pop("default", None)
    schema["minProperties"] = 1


class TaskUpdate(BaseModel):
    """Partial update; status has its own endpoint because changing it publishes an event.

    A field may be left out but never set to null: none of them is nullable in a Task.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra=_no_null_defaults)

    title: Title | SkipJsonSchema[None] = None
    description: Description | SkipJsonSchema[None] = None
    priority: Priority | SkipJsonSchema[None] = None

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            nulls = sorted(k for k, v in data.items() if v is None)
            if nulls:
                raise ValueError(
                    f"{', '.join(nulls)} cannot be null; leave a field out to keep its value"
                )
        return data

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("give at least one of: title, description, priority")
        return self

    def changes(self) -> dict[str, object]:
        return self.model_dump(exclude_unset=True, exclude_none=True)


class Task(BaseModel):
    id: TaskId
    title: Title
    description: Description = ""
    status: TaskStatus = TaskStatus.PENDING
    priority: Priority = 3
    created_at: AwareDatetime
    updated_at: AwareDatetime
    # Incremented by every successful write; it is also the task's HTTP ETag, so a client's
    # If-Match is independent of the store's ETag format (Redis counters, PostgreSQL uuids).
    revision: int = Field(default=1, ge=1)


class TaskEvent(BaseModel):
    """The JSON `data` of a CloudEvent on the task topic.

    event_id is ours (the outbox's CloudEvent id is `outbox-<uuid>`, new per delivery path);
    revision is the task revision the change wrote, which the subscriber checks against the
    stored task before acting (see taskapi.verification).
    """

    event_id: str = Field(default_factory=new_id, min_length=1, max_length=64)
    event_type: EventType
    task_id: str = Field(min_length=1, max_length=64)
    title: str
    status: TaskStatus
    revision: int = Field(ge=1)
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
