"""notification-service: claim decisions and the in-memory "sent" record (pure logic)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from notifier.claims import Claim, ClaimState, Decision, claim_key, decide, sent_key
from notifier.models import NotifyRequest
from notifier.recorder import Recorder

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def _request(event_id: str, task_id: str = "t1") -> NotifyRequest:
    return NotifyRequest(
        event_id=event_id,
        event_type="task.completed",
        task_id=task_id,
        title="x",
        status="completed",
        timestamp=datetime.now(UTC),
    )


def _claim(state: ClaimState, age: timedelta) -> Claim:
    return Claim(event_id="e1", task_id="t1", state=state, by="r1", at=NOW - age)


def test_a_marked_event_is_a_duplicate_whatever_its_claim_says() -> None:
    for age in (timedelta(0), LEASE, timedelta(days=3)):  # fresh, expired lease, old
        assert decide(_claim(ClaimState.PENDING, age), True, NOW, LEASE) == Decision.DUPLICATE


def test_a_claim_written_sent_before_the_mark_existed_is_a_duplicate() -> None:
    assert decide(_claim(ClaimState.SENT, timedelta(0)), False, NOW, LEASE) == Decision.DUPLICATE
    assert decide(_claim(ClaimState.SENT, timedelta(days=3)), False, NOW, LEASE) == (
        Decision.DUPLICATE
    )


def test_an_unmarked_claim_blocks_until_its_lease_runs_out() -> None:
    fresh = _claim(ClaimState.PENDING, timedelta(seconds=5))
    assert decide(fresh, False, NOW, LEASE) == Decision.BUSY
    assert decide(_claim(ClaimState.PENDING, LEASE), False, NOW, LEASE) == Decision.TAKE_OVER


def test_claims_and_marks_are_keyed_by_event_id() -> None:
    assert claim_key("e1") == "notification:e1"
    assert sent_key("e1") == "notification-sent:e1"


def test_recorder_lists_per_task() -> None:
    recorder = Recorder(limit=100)
    recorder.record(_request("e1"))
    recorder.record(_request("e2", task_id="t2"))
    assert [n.event_id for n in recorder.list("t1")] == ["e1"]
    assert len(recorder.list()) == 2


def test_the_record_keeps_only_the_most_recent_but_counts_all() -> None:
    recorder = Recorder(limit=3)
    for n in range(10):
        recorder.record(_request(f"e{n}", task_id=f"t{n}"))
    assert [n.event_id for n in recorder.list()] == ["e7", "e8", "e9"]
    assert recorder.counts["task.completed"] == 10


def test_a_reader_following_the_record_gets_each_notification_once_despite_eviction() -> None:
    recorder = Recorder(limit=3)
    seen: list[str] = []
    after, made = 0, 0
    for batch in (2, 3, 1):  # the reader polls after each batch; the record holds 3
        for _ in range(batch):
            made += 1
            recorder.record(_request(f"e{made}", task_id="t"))
        new = recorder.list(after=after)
        seen += [n.event_id for n in new]
        after = new[-1].seq
    assert seen == [f"e{n}" for n in range(1, 7)]
    assert [n.seq for n in recorder.list()] == [4, 5, 6]
    assert recorder.list(after=6) == []
    assert [n.seq for n in recorder.list("t", after=4)] == [5, 6]
