"""Faults in the middle of a burst of changes, on the real stack, on both state stores.

A burst of creates and of conflicting updates of the same few tasks (concurrent clients, so
ETag checks fail and are retried) runs while (a) Redis stops answering for a few seconds
(SIGSTOP: pub/sub on both stores, and the state too on the Redis store) or (b) the Task
API's daprd is killed (SIGKILL) and a new one started. After recovery, from the stored
records (each remembers the event ids written with it), the app's own subscription
(GET /tasks/{id}/activity), the notification-service and an independent witness
subscriber (its own daprd, every delivery counted):

- lost: a stored change whose event was never handled           -> 0 on both stores
- phantom effect: a handled event or notification without a stored change -> 0 on both
- phantom event: a delivered event without a stored change       -> 0 on PostgreSQL (its
  transactions are atomic); on Redis a rejected transaction can be half applied and its
  event published (docs/task-api.md, "Which guarantees each store gives"): counted, no effect
- handled twice: an event id recorded or notified more than once -> 0 on both stores;
  redeliveries (the same event id delivered again) are counted and recognised.

Every loop and wait is bounded; counts are printed.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.dapr import Daprd
from harness.ports import LOOPBACK
from harness.postgres import PostgresServer
from harness.redis import RedisServer
from harness.taskapi_stack import Stack
from harness.waiting import eventually
from taskapi.activity import activity_key
from taskapi.models import EventType, TaskActivity
from taskapi.records import RECENT_EVENTS, TaskRecord
from taskapi.tasks import task_key

pytestmark = pytest.mark.integration

CONTENDED = 4  # tasks every client updates at once
CLIENTS = 6
OPS_PER_CLIENT = 24  # 144 requests; <= 24 changes per contended task (< RECENT_EVENTS)
REDIS_PAUSE_SECONDS = 12  # longer than the app's 10 s Dapr call timeout
# The outbox holds an event ~1 s before publishing and retries a missing commit ~10 s
# before discarding it; redelivery after 1 s + 2 s (tests' pub/sub settings). Quiet this
# long means no straggler is still on its way.
QUIET_SECONDS = 15


class Witness:
    """An independent subscriber (own app id, so its own consumer group) that records
    every delivery of the stack's topic, redeliveries included."""

    def __init__(self, stack: Stack, workdir: Path) -> None:
        self.deliveries: list[dict[str, Any]] = []
        self.last_delivery = time.monotonic()
        subscription = [{"pubsubname": "pubsub", "topic": stack.topic, "route": "/events"}]
        witness = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._reply(subscription if self.path == "/dapr/subscribe" else [])

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                data = json.loads(body).get("data")
                witness.deliveries.append(json.loads(data) if isinstance(data, str) else data)
                witness.last_delivery = time.monotonic()
                self._reply({"status": "SUCCESS"})

            def _reply(self, doc: object) -> None:
                raw = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.sidecar = Daprd(
            f"witness-{uuid.uuid4().hex[:6]}",
            self._server.server_address[1],
            stack.resources,
            workdir,
            config=stack.config,
        )

    def start(self) -> Witness:
        self._thread.start()
        self.sidecar.start()
        self.sidecar.wait_healthy()
        return self

    def stop(self) -> None:
        self.sidecar.stop()
        self._server.shutdown()
        self._server.server_close()


@dataclass
class FaultStack:
    stack: Stack
    redis: RedisServer
    witness: Witness
    api: httpx.Client


@pytest.fixture(scope="module", params=["redis", "postgresql"])
def faulty(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    dapr_configuration: Path,
) -> Iterator[FaultStack]:
    """The two apps on the parameter's store, with a redis-server of their own (this module
    stops it, which must not disturb other tests), plus the witness."""
    workdir = tmp_path_factory.mktemp(f"faults-{request.param}")
    postgres: str | None = None
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        postgres = server.create_database(f"faults_{uuid.uuid4().hex[:8]}")
    with RedisServer(workdir / "redis") as redis:
        stack = Stack(workdir, redis.address, dapr_configuration, postgres)
        witness = Witness(stack, workdir / "witness")
        try:
            stack.start()
            witness.start()
            with httpx.Client(base_url=stack.taskapi.url, timeout=30) as api:
                yield FaultStack(stack, redis, witness, api)
        finally:
            witness.stop()
            stack.stop()


@dataclass
class Burst:
    marker: str
    contended: list[str]
    answers: Counter[str] = field(default_factory=Counter)
    done: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _burst(f: FaultStack, fault: Callable[[], None]) -> Burst:
    """CLIENTS threads, each OPS_PER_CLIENT requests; ``fault`` runs once a third is done."""
    marker = uuid.uuid4().hex[:8]
    contended = [
        f.api.post("/tasks", json={"title": f"{marker} contended {i}"}).json()["id"]
        for i in range(CONTENDED)
    ]
    burst = Burst(marker, contended)
    statuses = ["in_progress", "completed", "pending"]

    def client(c: int) -> None:
        with httpx.Client(base_url=f.stack.taskapi.url, timeout=30) as http:
            for i in range(OPS_PER_CLIENT):
                target = contended[(c + i) % CONTENDED]
                try:
                    if i % 3 == 0:
                        reply = http.post("/tasks", json={"title": f"{marker} new {c}-{i}"})
                    elif i % 3 == 1:
                        reply = http.put(
                            f"/tasks/{target}/status", params={"status": statuses[(c + i) % 3]}
                        )
                    else:
                        reply = http.patch(f"/tasks/{target}", json={"title": f"{marker} {c}-{i}"})
                    outcome = str(reply.status_code)
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                with burst.lock:
                    burst.answers[outcome] += 1
                    burst.done += 1

    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        running = [pool.submit(client, c) for c in range(CLIENTS)]
        eventually(
            lambda: burst.done >= CLIENTS * OPS_PER_CLIENT // 3 or all(r.done() for r in running),
            timeout=300,
            what="a third of the burst",
        )
        fault()
        for r in running:
            r.result(timeout=600)
    return burst


def _walk(api: httpx.Client) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(1000):  # bounded walk
        params: dict[str, str | int] = {"limit": 100}
        if cursor:
            params["cursor"] = cursor
        reply = api.get("/tasks", params=params)
        reply.raise_for_status()
        page = reply.json()
        tasks += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return tasks
    raise AssertionError("listing did not end")


@dataclass
class Observed:
    stored: dict[str, str]  # event id -> task id, from the stored records
    handled: Counter[str]  # event id -> times in the app's activity records
    completions_handled: set[str]
    notified: Counter[str]  # event id -> notifications sent
    delivered: Counter[str]  # event id -> deliveries to the witness


def _bulk(f: FaultStack, keys: list[str]) -> dict[str, Any]:
    """Values of ``keys`` read straight from the store through the Task API's daprd."""
    url = f"{f.stack.taskapi_sidecar.http_url}/v1.0/state/statestore/bulk"
    found: dict[str, Any] = {}
    for i in range(0, len(keys), 200):
        reply = httpx.post(url, json={"keys": keys[i : i + 200]}, timeout=60)
        reply.raise_for_status()
        found.update({item["key"]: item["data"] for item in reply.json() if item.get("data")})
    return found


def _observe(f: FaultStack, burst: Burst) -> Observed:
    ids = {t["id"] for t in _walk(f.api) if t["title"].startswith(burst.marker)}
    ids |= set(burst.contended)
    records = _bulk(f, [task_key(t) for t in sorted(ids)])
    activities = _bulk(f, [activity_key(t) for t in sorted(ids)])
    stored: dict[str, str] = {}
    handled: Counter[str] = Counter()
    completions: set[str] = set()
    for task_id in sorted(ids):
        record = TaskRecord.model_validate(records[task_key(task_id)])
        # The record remembers every change of this burst: none fell out of its window.
        assert record.task.revision < RECENT_EVENTS, record.task.revision
        stored.update({w.event_id: task_id for w in record.events})
        activity = activities.get(activity_key(task_id))
        if activity is not None:
            for event in TaskActivity.model_validate(activity).events:
                handled[event.event_id] += 1
                if event.event_type == EventType.COMPLETED:
                    completions.add(event.event_id)
    notes = httpx.get(f"{f.stack.notifier.url}/notifications", timeout=30).json()
    notified = Counter(n["event_id"] for n in notes if n["task_id"] in ids)
    # TaskEvents only: the outbox also publishes what else a create writes (an index marker)
    delivered = Counter(
        d["event_id"]
        for d in list(f.witness.deliveries)
        if isinstance(d, dict) and d.get("task_id") in ids and "event_id" in d
    )
    return Observed(stored, handled, completions, notified, delivered)


def _settle_and_check(f: FaultStack, burst: Burst, fault: str) -> None:
    eventually(
        lambda: f.api.get("/ready").status_code == 200,
        timeout=120,
        what="the Task API ready again",
        tolerate=(httpx.HTTPError,),
    )

    last: list[Observed] = []

    def all_handled() -> Observed | None:
        last[:] = [_observe(f, burst)]
        return last[0] if set(last[0].stored) <= set(last[0].handled) else None

    def unhandled() -> str:
        if not last:
            return ""
        missing = set(last[0].stored) - set(last[0].handled)
        return "stored, never handled (event id -> task): " + ", ".join(
            f"{e}->{last[0].stored[e]}" for e in sorted(missing)
        )

    eventually(
        all_handled,
        timeout=240,
        what="every stored change's event handled",
        interval=2,
        tolerate=(httpx.HTTPError,),
        explain=unhandled,
    )
    # then stragglers: redeliveries, late outbox messages, discarded phantoms
    eventually(
        lambda: time.monotonic() - f.witness.last_delivery > QUIET_SECONDS,
        timeout=180,
        what=f"{QUIET_SECONDS} s without a delivery",
        interval=1,
    )
    seen = _observe(f, burst)

    stored, handled = set(seen.stored), set(seen.handled)
    lost = stored - handled
    phantom_effects = (handled - stored) | (set(seen.notified) - stored)
    phantom_events = set(seen.delivered) - stored
    twice = {e for e, n in seen.handled.items() if n > 1} | {
        e for e, n in seen.notified.items() if n > 1
    }
    unnotified = seen.completions_handled - set(seen.notified)
    redeliveries = sum(seen.delivered.values()) - len(seen.delivered)
    acknowledged = sum(n for code, n in burst.answers.items() if code.startswith("2"))
    print(
        f"\n{f.stack.store} / {fault}: {sum(burst.answers.values())} requests "
        f"{dict(burst.answers)}; {acknowledged} acknowledged; {len(stored)} stored changes "
        f"(incl. {len(burst.contended)} setup creates), {len(handled & stored)} handled once, "
        f"{len(seen.completions_handled)} completions notified once; lost {len(lost)}, "
        f"phantom effects {len(phantom_effects)}, phantom events {len(phantom_events)}, "
        f"handled twice {len(twice)}, redeliveries seen by the witness {redeliveries}"
    )

    assert not lost, f"stored changes whose event was never handled: {lost}"
    assert not phantom_effects, f"effects of events without a stored change: {phantom_effects}"
    assert not twice, f"handled or notified more than once: {twice}"
    assert not unnotified, f"completions handled without their notification: {unnotified}"
    if f.stack.store == "postgresql":
        assert not phantom_events, f"events without a stored change: {phantom_events}"
    # the fault really hit the burst: some requests were not acknowledged
    assert acknowledged < sum(burst.answers.values()), burst.answers


def test_redis_unresponsive_mid_burst_loses_nothing_and_invents_nothing(
    faulty: FaultStack,
) -> None:
    pid = faulty.redis._proc.pid  # type: ignore[union-attr]

    def pause_redis() -> None:
        os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(REDIS_PAUSE_SECONDS)  # the fault's duration, not a wait for a result
        finally:
            os.kill(pid, signal.SIGCONT)

    burst = _burst(faulty, pause_redis)
    _settle_and_check(faulty, burst, f"redis-server stopped {REDIS_PAUSE_SECONDS} s")


def test_daprd_killed_mid_burst_loses_nothing_and_invents_nothing(faulty: FaultStack) -> None:
    def kill_daprd() -> None:
        sidecar = faulty.stack.taskapi_sidecar
        os.kill(sidecar._proc.pid, signal.SIGKILL)  # type: ignore[union-attr]
        faulty.stack.restart_taskapi_sidecar()

    burst = _burst(faulty, kill_daprd)
    _settle_and_check(faulty, burst, "daprd SIGKILLed and restarted")
