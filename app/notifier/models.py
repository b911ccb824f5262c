"""What notification-service accepts (a task event) and what it records."""

from pydantic import AwareDatetime, BaseModel, Field


class NotifyRequest(BaseModel):
    event_id: str = Field(min_length=1)
    event_type: str
    task_id: str = Field(min_length=1)
    title: str
    status: str
    timestamp: AwareDatetime


class Notification(BaseModel):
    seq: int  # 1, 2, ... in the order recorded by this process (GET /notifications?after=)
    event_id: str
    task_id: str
    event_type: str
    title: str
    received_at: AwareDatetime


class NotifyResult(BaseModel):
    event_id: str
    # True only for the one delivery that sent the notification.
    recorded: bool
