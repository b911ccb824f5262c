"""Exactly one notification per event id, across restarts and replicas (pure decisions).

Before it sends, a replica claims the event id with a first write to the Dapr state store:
only one writer can create the key. Once the notification is out, a second first-written key
marks it sent (one call: replacing the claim would need its ETag, which Dapr returns only
from a read). A redelivery finds the mark and sends nothing; finds only a fresh claim
(another replica is sending right now) and asks to be retried; finds only a claim older than
the lease (its sender died before finishing) and takes it over under the claim's ETag.
Claims written `sent` before the mark existed count as marked.
"""

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel


class ClaimState(StrEnum):
    PENDING = "pending"
    SENT = "sent"  # only in claims written before the sent mark (sent_key) existed


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


def sent_key(event_id: str) -> str:
    return f"notification-sent:{event_id}"


class SentMark(BaseModel):
    event_id: str
    by: str
    at: AwareDatetime


def decide(existing: Claim, sent: bool, now: datetime, lease: timedelta) -> Decision:
    """What to do with an event someone has already claimed (``sent``: its mark exists)."""
    if sent or existing.state == ClaimState.SENT:
        return Decision.DUPLICATE
    if now - existing.at < lease:
        return Decision.BUSY
    return Decision.TAKE_OVER
