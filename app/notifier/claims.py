"""Exactly one notification per event id, across restarts and replicas (pure decisions).

Before it sends, a replica claims the event id with a first write to the Dapr state store:
only one writer can create the key. A claim stays `pending` until the notification is out,
then becomes `sent`. A redelivery finds `sent` and sends nothing; finds a fresh `pending`
(another replica is sending right now) and asks to be retried; finds a `pending` older than
the lease (its sender died before finishing) and takes it over under the claim's ETag.
"""

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel


class ClaimState(StrEnum):
    PENDING = "pending"
    SENT = "sent"


class Claim(BaseModel):
    event_id: str
    task_id: str
    state: ClaimState
    by: str
    at: AwareDatetime


class Decision(StrEnum):
    DUPLICATE = "duplicate"
    BUSY = "busy"
    TAKE_OVER = "take-over"


def claim_key(event_id: str) -> str:
    return f"notification:{event_id}"


def decide(existing: Claim, now: datetime, lease: timedelta) -> Decision:
    """What to do with an event someone has already claimed."""
    if existing.state == ClaimState.SENT:
        return Decision.DUPLICATE
    if now - existing.at < lease:
        return Decision.BUSY
    return Decision.TAKE_OVER
