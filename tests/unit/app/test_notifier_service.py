"""notification-service's notify (service.py) over an in-memory claims store with Dapr's
first-write semantics: one claim and one sent mark per notification, no read on the way,
and what a redelivery does with what it finds."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from notifier.claims import Claim, ClaimState, SentMark, claim_key, sent_key
from notifier.dapr_io import ClaimTakenError, StateUnavailableError
from notifier.models import NotifyRequest
from notifier.recorder import Recorder
from notifier.service import Notifications, Outcome
from notifier.settings import Settings


class FirstWriteStore:
    """The notifier's DaprIO over a dict: a write without an ETag only creates, a write
    with one replaces exactly that version; every call is counted."""

    def __init__(self) -> None:
        self.data: dict[str, tuple[str, str]] = {}  # key -> (json, etag)
        self.calls: list[str] = []
        self._etags = (str(n) for n in itertools.count(1))
        self.fail_marks = False

    def _write(self, key: str, value: str, etag: str | None) -> None:
        current = self.data.get(key)
        if (etag is None and current is not None) or (
            etag is not None and (current is None or current[1] != etag)
        ):
            raise ClaimTakenError(key)
        self.data[key] = (value, next(self._etags))

    async def write_claim(self, key: str, claim: Claim, etag: str | None) -> None:
        self.calls.append("write_claim")
        self._write(key, claim.model_dump_json(), etag)

    async def look(self, event_id: str) -> tuple[tuple[Claim, str] | None, bool]:
        self.calls.append("look")
        found = self.data.get(claim_key(event_id))
        claim = None if found is None else (Claim.model_validate_json(found[0]), found[1])
        return claim, sent_key(event_id) in self.data

    async def mark_sent(self, mark: SentMark) -> None:
        self.calls.append("mark_sent")
        if self.fail_marks:
            raise StateUnavailableError("the store is down")
        self._write(sent_key(mark.event_id), mark.model_dump_json(), None)


def _request(event_id: str = "e1") -> NotifyRequest:
    return NotifyRequest(
        event_id=event_id,
        event_type="task.completed",
        task_id="t1",
        title="x",
        status="completed",
        timestamp=datetime.now(UTC),
    )


def _service(store: FirstWriteStore, replica: str = "r1") -> tuple[Notifications, Recorder]:
    recorder = Recorder(limit=10)
    settings = Settings(replica=replica, lease_seconds=30)
    io: Any = store  # the DaprIO surface Notifications uses
    return Notifications(io, recorder, settings), recorder


def _claim(store: FirstWriteStore, age: timedelta, state: ClaimState) -> None:
    at = datetime.now(UTC) - age
    claim = Claim(event_id="e1", task_id="t1", state=state, by="dead", at=at)
    store.data[claim_key("e1")] = (claim.model_dump_json(), "old")


async def test_a_first_delivery_claims_sends_and_marks_in_two_calls() -> None:
    store = FirstWriteStore()
    service, recorder = _service(store)
    assert await service.notify(_request()) == Outcome.SENT
    assert store.calls == ["write_claim", "mark_sent"]
    assert [n.event_id for n in recorder.list()] == ["e1"]


async def test_a_redelivery_after_the_mark_sends_nothing_on_any_replica() -> None:
    store = FirstWriteStore()
    first, _ = _service(store)
    await first.notify(_request())
    second, recorder = _service(store, "r2")
    assert await second.notify(_request()) == Outcome.DUPLICATE
    assert recorder.list() == []


async def test_a_claim_written_sent_before_the_mark_existed_is_a_duplicate() -> None:
    store = FirstWriteStore()
    _claim(store, timedelta(days=1), ClaimState.SENT)
    service, recorder = _service(store)
    assert await service.notify(_request()) == Outcome.DUPLICATE
    assert recorder.list() == []


async def test_a_fresh_unmarked_claim_is_busy_and_a_stale_one_is_taken_over() -> None:
    store = FirstWriteStore()
    _claim(store, timedelta(seconds=5), ClaimState.PENDING)
    service, recorder = _service(store)
    assert await service.notify(_request()) == Outcome.BUSY
    assert recorder.list() == []
    _claim(store, timedelta(seconds=31), ClaimState.PENDING)  # its sender died
    assert await service.notify(_request()) == Outcome.SENT
    assert Claim.model_validate_json(store.data[claim_key("e1")][0]).by == "r1"
    assert sent_key("e1") in store.data
    assert [n.event_id for n in recorder.list()] == ["e1"]


async def test_a_mark_that_cannot_be_written_leaves_the_claim_to_its_lease(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = FirstWriteStore()
    store.fail_marks = True
    service, _ = _service(store)
    assert await service.notify(_request()) == Outcome.SENT  # it went out: not an error
    assert sent_key("e1") not in store.data
    assert "Could not mark notification sent event_id=e1" in caplog.text
    store.fail_marks = False
    again, _ = _service(store, "r2")
    assert await again.notify(_request()) == Outcome.BUSY  # until the lease runs out
