"""The sustained benchmark: a fixed duration of load, measured end to end.

A burst of a few hundred cycles ends before the work each change causes after its response
(the outbox's internal round, the subscription, the notifier's claim and record) has run,
so it can be won by deferring work. Here N closed-loop clients loop create -> get ->
complete for ``duration`` seconds, and a completion counts end to end only when its
notification is recorded at notification-service (its ``received_at``). After the load:

- drain: how long after the load ended the last acknowledged completion was notified
  (a path that keeps up drains in about a second; a growing backlog takes minutes);
- lost / duplicate: acknowledged completions with no notification (after a bounded
  wait), and tasks notified more than once;
- CPU seconds per cycle of every process (each part's process tree, from /proc, over load
  and drain, less what it burns idle), and every process's RSS before and after;
- sequential GET p50 (1 client), and create p50/p99 under the N clients.

Every loop is bounded in count and time; nothing is asserted (the machine's load moves it).
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import load
import subjects
from cpucost import cpu_seconds

IDLE_SECONDS = 5
MAX_CYCLES_PER_CLIENT = 100_000  # the duration ends a run long before this
# Processes whose memory is the data stored (every cycle leaves a task): not held to "flat".
STORES = frozenset({"redis-server", "postgres"})


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def tree(root: int) -> list[int]:
    """``root`` and every descendant (PostgreSQL works in one backend per connection)."""
    kids, found, todo = _children(), list[int](), [root]
    while todo and len(found) < 10_000:
        pid = todo.pop()
        found.append(pid)
        todo += kids.get(pid, [])
    return found


def cpu_ticks() -> tuple[int, int]:
    """(steal, total) jiffies of the machine's CPUs since boot (/proc/stat's first line)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return fields[7] if len(fields) > 7 else 0, sum(fields[:8])


def rss_mib(pids: list[int]) -> float:
    return sum(v for v in (subjects.rss_mib(p) for p in pids) if not math.isnan(v))  # NaN: gone


def _sample(subject: subjects.Subject) -> dict[str, tuple[float, float]]:
    """(CPU seconds, RSS MiB) of every part's process tree, now."""
    out = {}
    for name, root in subject.parts().items():
        pids = tree(root)
        out[name] = (cpu_seconds(pids), rss_mib(pids))
    return out


@dataclass
class Sustained:
    name: str
    clients: int
    seconds: float = 0.0
    result: load.Result | None = None
    acked: dict[str, float] = field(default_factory=dict)  # task id -> wall time of the 200
    notified_in_load: int = 0
    drain: float = float("nan")
    lost: int = 0
    duplicates: int = 0
    cpu_ms: dict[str, float] = field(default_factory=dict)  # per cycle, by part
    rss_before: dict[str, float] = field(default_factory=dict)
    # a third into the load: the processes' pools, caches and buffers have grown by then, so
    # growth after it is what the load keeps adding (the "flat after warm-up")
    rss_warm: dict[str, float] = field(default_factory=dict)
    rss_after: dict[str, float] = field(default_factory=dict)
    generator_ms: float = 0.0
    get_p50: float = float("nan")
    load_before: float = 0.0
    load_after: float = 0.0
    # Share of the machine's CPU time the hypervisor gave to others during the load: subjects
    # run one after another, so a machine whose speed drifts moves the ratios between them.
    steal_pct: float = 0.0

    @property
    def cycles(self) -> int:
        return self.result.done if self.result else 0

    @property
    def rate(self) -> float:
        return self.cycles / self.seconds if self.seconds else 0.0

    @property
    def e2e_rate(self) -> float:
        return self.notified_in_load / self.seconds if self.seconds else 0.0


class Follower:
    """Follows notification-service's record (``?after=<seq>``), in a thread while the load
    runs: the record is bounded, so a run longer than it holds (~2.5 minutes at 130/s)
    would otherwise find its first completions evicted. Each poll fetches only what is new,
    so following costs the notifier the serialisation of each notification once."""

    POLL_SECONDS = 1.0

    def __init__(self, url: str) -> None:
        self._url = url
        self._after = 0
        self.seen: list[tuple[str, float]] = []  # (task id, received_at) of task.completed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def poll(self) -> None:
        reply = httpx.get(self._url, params={"after": self._after}, timeout=60)
        reply.raise_for_status()
        new = reply.json()
        if new:
            self._after = new[-1]["seq"]
        self.seen += [
            (n["task_id"], datetime.fromisoformat(n["received_at"]).timestamp())
            for n in new
            if n.get("event_type") == "task.completed"
        ]

    def _run(self) -> None:
        while not self._stop.wait(self.POLL_SECONDS):
            try:
                self.poll()
            except httpx.HTTPError as error:  # a slow answer under load: the next poll resumes
                print(f"  (notifications poll failed, retrying: {error!r})")

    def __enter__(self) -> Follower:
        self._thread.start()
        return self

    def forget(self) -> None:
        """Start counting afresh (after the warm-up): in place, as the thread extends it."""
        self.seen.clear()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def wait_for(self, acked: dict[str, float], budget: float) -> list[tuple[str, float]]:
        """Every notification seen, once each acknowledged task has one or the budget ran out."""
        deadline = time.monotonic() + budget
        while True:
            if set(acked) <= {t for t, _ in self.seen} or time.monotonic() > deadline:
                return self.seen
            time.sleep(0.25)


def _recording_cycle(acked: dict[str, float]) -> load.Step:
    async def step(client: load.Client, i: int, result: load.Result) -> bool:
        reply = await load.timed(result, "create", client.post("/tasks", json={"title": f"s{i}"}))
        if reply.status_code != 201:
            return False
        task_id = reply.json()["id"]
        if (await load.timed(result, "get", client.get(f"/tasks/{task_id}"))).status_code != 200:
            return False
        done = await load.timed(
            result,
            "complete",
            client.put(f"/tasks/{task_id}/status", params={"status": "completed"}),
        )
        if done.status_code != 200:
            return False
        acked[task_id] = time.time()
        return True

    return step


def _sequential_get_p50(url: str) -> float:
    reply = httpx.post(f"{url}/tasks", json={"title": "probe"}, timeout=30)
    reply.raise_for_status()
    task_id = reply.json()["id"]

    async def get_one(client: load.Client, i: int, result: load.Result) -> bool:
        got = await load.timed(result, "get", client.get(f"/tasks/{task_id}"))
        return got.status_code == 200

    return load.run_sync(url, get_one, clients=1, per_client=300, budget_seconds=60).p("get", 0.5)


def measure(
    subject: subjects.Subject, clients: int, duration: float, drain_budget: float
) -> Sustained:
    out = Sustained(subject.name, clients, load_before=os.getloadavg()[0])
    url = subject.notifications_url
    follower = Follower(url) if url is not None else None
    with follower or contextlib.nullcontext():
        # warm-up, and its notifications through before anything is measured
        warm: dict[str, float] = {}
        load.run_sync(
            subject.url, _recording_cycle(warm), clients=1, per_client=20, budget_seconds=60
        )
        if follower is not None:
            follower.wait_for(warm, 60)
            follower.forget()
        before = _sample(subject)
        time.sleep(IDLE_SECONDS)
        idle = {n: (cpu - before[n][0]) / IDLE_SECONDS for n, (cpu, _) in _sample(subject).items()}
        before = _sample(subject)
        out.rss_before = {n: rss for n, (_, rss) in before.items()}
        own, ticks = os.times(), cpu_ticks()
        started, wall_start = time.monotonic(), time.time()
        third = threading.Timer(
            duration / 3,
            lambda: out.rss_warm.update({n: rss for n, (_, rss) in _sample(subject).items()}),
        )
        third.start()
        out.result = load.run_sync(
            subject.url,
            _recording_cycle(out.acked),
            clients=clients,
            per_client=MAX_CYCLES_PER_CLIENT,
            budget_seconds=duration,
        )
        out.seconds = out.result.seconds
        third.cancel()
        wall_end = wall_start + out.seconds
        mine, ticks_end = os.times(), cpu_ticks()
        out.steal_pct = 100 * (ticks_end[0] - ticks[0]) / max(1, ticks_end[1] - ticks[1])
        seen = follower.wait_for(out.acked, drain_budget) if follower is not None else []
    if follower is not None:
        times = Counter(t for t, _ in seen)
        first: dict[str, float] = {}
        for task_id, at in seen:
            first[task_id] = min(at, first.get(task_id, at))
        mine_seen = {t: at for t, at in first.items() if t in out.acked}
        out.notified_in_load = sum(1 for at in mine_seen.values() if at <= wall_end)
        out.lost = len(set(out.acked) - set(mine_seen))
        out.duplicates = sum(1 for t in out.acked if times[t] > 1)
        out.drain = max(0.0, max(mine_seen.values(), default=wall_end) - wall_end)
    elapsed = time.monotonic() - started
    after = _sample(subject)
    done = max(1, out.cycles)
    for name, (cpu, rss) in after.items():
        spent = cpu - before.get(name, (cpu, 0.0))[0] - idle.get(name, 0.0) * elapsed
        out.cpu_ms[name] = spent * 1000 / done
        out.rss_after[name] = rss
    out.generator_ms = ((mine.user + mine.system) - (own.user + own.system)) * 1000 / done
    out.get_p50 = _sequential_get_p50(subject.url)
    out.load_after = os.getloadavg()[0]
    return out


def report(results: list[Sustained], duration: float) -> None:
    print(
        f"\n== sustained: {results[0].clients if results else 0} clients x {duration:g} s, "
        "create -> get -> complete; end to end = notification recorded at "
        f"notification-service ({os.cpu_count()} CPUs) =="
    )
    print(
        f"{'':34} {'cycles/s':>8} {'e2e/s':>7} {'drain s':>8} {'lost':>5} {'dup':>4} "
        f"{'errors':>6} {'CPU ms/cycle':>12} {'create p50/p99':>15} {'GET p50':>8} "
        f"{'load 1m':>11} {'steal %':>7}"
    )
    for r in results:
        e2e = f"{r.e2e_rate:7.1f}" if not math.isnan(r.drain) else f"{'-':>7}"
        drain = f"{r.drain:8.1f}" if not math.isnan(r.drain) else f"{'-':>8}"
        p = r.result
        create = f"{p.p('create', 0.5):6.2f}/{p.p('create', 0.99):7.2f}" if p else "-"
        errors = p.errors if p else 0
        print(
            f"{r.name:34} {r.rate:8.1f} {e2e} {drain} {r.lost:5d} {r.duplicates:4d} "
            f"{errors:6d} {sum(r.cpu_ms.values()):12.2f} {create:>15} {r.get_p50:8.2f} "
            f"{r.load_before:5.1f}/{r.load_after:<5.1f} {r.steal_pct:7.1f}"
        )
    print("\n== CPU ms per cycle, by process (load + drain, idle subtracted) ==")
    for r in results:
        parts = "  ".join(f"{n} {v:.2f}" for n, v in r.cpu_ms.items())
        print(f"{r.name:34} {parts}  (load generator {r.generator_ms:.2f})")
    print(
        "\n== RSS MiB before -> a third into -> after the sustained load (process trees; "
        "flat within 10% after the first third) =="
    )
    nan = float("nan")
    for r in results:
        parts = "  ".join(
            f"{n} {r.rss_before.get(n, nan):.0f}->{r.rss_warm.get(n, nan):.0f}->{v:.0f}"
            for n, v in r.rss_after.items()
        )
        print(f"{r.name:34} {parts}")
    seed = next((r for r in results if r.name.startswith("seed")), None)
    plain = next((r for r in results if "redis-py" in r.name), None)
    print("\n== targets (issue 21) ==")
    for r in results:
        if not r.name.startswith("Task API"):
            continue
        lines: list[tuple[str, float, float, str]] = []
        if seed is not None and seed.e2e_rate > 0:
            bound = 2.0 if "Redis" in r.name else 1.5
            lines.append(
                (f"e2e/s >= {bound:g}x the seed's", r.e2e_rate / seed.e2e_rate, bound, ">=")
            )
        lines.append(("drain after the load (s) <= 5", r.drain, 5.0, "<="))
        lines.append(("lost + duplicates == 0", float(r.lost + r.duplicates), 0.0, "<="))
        growth = [
            100 * (v / r.rss_warm[n] - 1)
            for n, v in r.rss_after.items()
            if r.rss_warm.get(n) and n not in STORES
        ]
        if growth:
            lines.append(("RSS growth after the first third (%) <= 10", max(growth), 10.0, "<="))
        if r.result is not None:
            ratio = r.result.p("create", 0.99) / r.result.p("create", 0.5)
            lines.append(("create p99 <= 4x p50", ratio, 4.0, "<="))
        if plain is not None:
            lines.append(("GET p50 - redis-py's (ms) <= 1.5", r.get_p50 - plain.get_p50, 1.5, "<="))
        for what, value, bound, op in lines:
            ok = value >= bound if op == ">=" else value <= bound
            print(f"{r.name:26} {what:40} {value:8.2f}  {'met' if ok else 'NOT met'}")
