"""Notify once per event id: claim, send, mark sent (see notifier.claims)."""

import logging
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from notifier.claims import Claim, ClaimState, Decision, SentMark, claim_key, decide
from notifier.dapr_io import ClaimTakenError, DaprIO, StateUnavailableError
from notifier.models import NotifyRequest
from notifier.recorder import Recorder
from notifier.settings import Settings

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    SENT = "sent"
    DUPLICATE = "duplicate"
    # Another replica holds a fresh claim: the caller retries, and then finds it sent.
    BUSY = "busy"


class Notifications:
    def __init__(self, io: DaprIO, recorder: Recorder, settings: Settings) -> None:
        self._io = io
        self._recorder = recorder
        self._settings = settings

    async def notify(self, request: NotifyRequest) -> Outcome:
        key = claim_key(request.event_id)
        mine = Claim(
            event_id=request.event_id,
            task_id=request.task_id,
            state=ClaimState.PENDING,
            by=self._settings.replica,
            at=datetime.now(UTC),
        )
        try:
            # The common case, one call: nobody has claimed this event yet.
            await self._io.write_claim(key, mine, None)
        except ClaimTakenError:
            outcome = await self._take_over(key, mine)
            if outcome is not None:
                return outcome
        self._recorder.record(request)
        log.info(
            "Notification delivered event_id=%s task=%s type=%s",
            request.event_id,
            request.task_id,
            request.event_type,
        )
        await self._mark_sent(mine)
        return Outcome.SENT

    async def _take_over(self, key: str, mine: Claim) -> Outcome | None:
        """None when this replica now holds the claim; else why it must not send."""
        existing, sent = await self._io.look(mine.event_id)
        if existing is None:
            return Outcome.BUSY  # expired or removed meanwhile: the redelivery decides
        lease = timedelta(seconds=self._settings.lease_seconds)
        decision = decide(existing[0], sent, mine.at, lease)
        if decision == Decision.DUPLICATE:
            log.info(
                "Duplicate notification ignored event_id=%s task=%s", mine.event_id, mine.task_id
            )
            return Outcome.DUPLICATE
        if decision == Decision.BUSY:
            return Outcome.BUSY
        log.warning(
            "Taking over an unfinished notification event_id=%s from=%s",
            mine.event_id,
            existing[0].by,
        )
        try:
            await self._io.write_claim(key, mine, existing[1])
        except ClaimTakenError:
            return Outcome.BUSY  # the redelivery will find the winner's claim
        return None

    async def _mark_sent(self, mine: Claim) -> None:
        """Best effort. A claim left unmarked (this fails, or the process dies before it)
        is taken over after the lease: the one window where a notification can repeat.

        A key of its own, created in one call: replacing the claim would take a read for
        its ETag first (Dapr returns none from a write, and its Redis store refuses a write
        without one to a first-written key, last-write included: seen on daprd 1.17).
        """
        mark = SentMark(event_id=mine.event_id, by=mine.by, at=datetime.now(UTC))
        try:
            await self._io.mark_sent(mark)
        except StateUnavailableError as exc:
            log.warning("Could not mark notification sent event_id=%s error=%s", mine.event_id, exc)
