"""Compares, in one run on one redis-server and one daprd build, on loopback only:

  (a) this Task API on the Redis state store      (b) the same on PostgreSQL (v2)
  (c) the seed lesson's app as it writes it (sync handlers, ``with DaprClient()`` per
      request, its subscription handler invoking a minimal notification-service; the one
      envelope fix, see tools/bench/seed_app.py)
  (d) FastAPI + redis-py directly, no Dapr

Default, the sustained mode (tools/bench/sustained.py): each subject under --clients
closed-loop clients for --duration seconds (60), create -> get -> complete, in --rounds
rounds (2) whose order alternates and whose figures are pooled (tools/bench/rounds.py: the
machine's speed drifts between subjects run minutes apart), measured end to end at
notification-service: cycles/s, completions/s end to end, drain time, lost and
duplicate notifications, CPU per cycle and RSS of every process, GET and create latency.

--burst adds the short burst phases (each client a bounded number of cycles, 1 and 8
clients: cycles/s and p50/p99, which a burst lets the event path defer past its end), Dapr
round trips per operation (daprd's API log) and, for the Task API, create throughput and
first-list-page latency with 1k and 100k tasks stored. Every loop is bounded in count and
time; targets are printed beside the numbers, never asserted.

    scripts/bench.sh [--duration S] [--clients N] [--rounds R] [--only c,a,b,d]
                     [--burst [--cycles N] ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import load
import rounds
import roundtrips
import seeding
import settle
import subjects
import sustained

from harness.dapr import write_configuration
from harness.lifecycle import exit_on_sigterm
from harness.postgres import PostgresServer
from harness.redis import RedisServer
from harness.waiting import eventually


@dataclass
class ScalePoint:
    stored: int
    create_rate: float
    create_p50: float
    list_p50: float
    get_p50: float


@dataclass
class Measured:
    name: str
    load: dict[int, load.Result] = field(default_factory=dict)
    rss_app: float = float("nan")
    rss_daprd: float = float("nan")
    trips: dict[str, roundtrips.Trips] = field(default_factory=dict)
    scale: list[ScalePoint] = field(default_factory=list)


def _known_id(url: str) -> str:
    reply = httpx.post(f"{url}/tasks", json={"title": "probe"}, timeout=30)
    reply.raise_for_status()
    return str(reply.json()["id"])


Settle = Callable[[], None]


def _scale_point(
    subject: subjects.Subject, stored: int, target: int, args: argparse.Namespace, drain: Settle
) -> ScalePoint:
    url = subject.url
    need = target - stored
    if need > 0 and subject.sidecar is not None:
        t0 = time.monotonic()
        seeded, sample = seeding.seed(subject.sidecar.http_url, need, args.seed_seconds)
        stored += seeded
        print(
            f"    seeded {seeded} tasks in {time.monotonic() - t0:.0f} s through daprd's bulk "
            f"state API -> {stored} stored",
            flush=True,
        )
        if sample is not None:  # the app reads what was seeded
            httpx.get(f"{url}/tasks/{sample}", timeout=30).raise_for_status()
    drain()
    # 1,600 creates: long enough (seconds) that a one-off cost, such as the first walk of
    # a shard after a restore, does not decide the rate
    creates = load.run_sync(
        url, load.create, clients=8, per_client=200, budget_seconds=args.phase_seconds
    )
    stored += creates.done
    task_id = _known_id(url)
    stored += 1

    async def get_one(client: load.Client, i: int, result: load.Result) -> bool:
        reply = await load.timed(result, "get", client.get(f"/tasks/{task_id}"))
        return reply.status_code == 200

    drain()
    gets = load.run_sync(url, get_one, clients=1, per_client=100, budget_seconds=args.phase_seconds)
    pages = load.run_sync(
        url, load.first_page, clients=1, per_client=100, budget_seconds=args.phase_seconds
    )
    return ScalePoint(
        stored, creates.rate, creates.p("create", 0.5), pages.p("list", 0.5), gets.p("get", 0.5)
    )


def measure(
    subject: subjects.Subject,
    args: argparse.Namespace,
    apilog: Path,
    is_taskapi: bool,
    drain: Settle,
) -> Measured:
    out = Measured(subject.name)
    print(f"\n-- {subject.name}", flush=True)
    load.run_sync(subject.url, load.cycle, clients=1, per_client=20, budget_seconds=60)  # warm-up
    stored = 20
    for clients in (1, 8):
        drain()
        result = load.run_sync(
            subject.url,
            load.cycle,
            clients=clients,
            per_client=args.cycles,
            budget_seconds=args.phase_seconds,
        )
        out.load[clients] = result
        stored += result.done + result.errors
        print(
            f"    {clients} client(s): {result.done} cycles in {result.seconds:.1f} s, "
            f"{result.errors} errors",
            flush=True,
        )
    out.rss_app = subjects.rss_mib(subject.app_pid)
    out.rss_daprd = subjects.rss_mib(subjects.sidecar_pid(subject))
    if is_taskapi:
        for target in (args.small, args.scale):
            point = _scale_point(subject, stored, target, args, drain)
            stored = point.stored
            out.scale.append(point)
            print(
                f"    at {point.stored} stored: {point.create_rate:.0f} creates/s, "
                f"list p50 {point.list_p50:.2f} ms, get p50 {point.get_p50:.2f} ms",
                flush=True,
            )
    if subject.restart_sidecar is not None:
        drain()
        sidecar = subject.restart_sidecar(apilog)
        eventually(
            lambda: httpx.get(f"{subject.url}{subject.ready_path}", timeout=5).status_code == 200,
            timeout=120,
            what=f"{subject.name} ready again",
            tolerate=(httpx.HTTPError,),
        )
        try:
            out.trips = roundtrips.per_operation(subject.url, sidecar, args.roundtrip_n, is_taskapi)
        except httpx.HTTPError as exc:  # report what was measured rather than nothing
            print(f"    round trips not counted: {exc}", flush=True)
    return out


def _ops(r: load.Result) -> str:
    return "  ".join(
        f"{r.p(op, 0.5):6.2f}/{r.p(op, 0.99):7.2f}" for op in ("create", "get", "complete")
    )


def report(results: dict[str, Measured]) -> None:
    load1, load5, _ = os.getloadavg()
    print(
        f"\n(machine: {os.cpu_count()} CPUs, load average {load1:.1f} / {load5:.1f} "
        "(1 / 5 min) at the end: numbers from a busy machine are lower for every subject)"
    )
    print("\n== create -> get -> complete, closed loop (latency p50/p99 in ms) ==")
    print(
        f"{'':42} {'clients':>7} {'cycles/s':>9}   {'create':>14}  {'get':>14}  "
        f"{'complete':>14}  errors"
    )
    for m in results.values():
        for clients, r in sorted(m.load.items()):
            print(f"{m.name:42} {clients:7d} {r.rate:9.1f}   {_ops(r)}  {r.errors:6d}")

    def rate(key: str, clients: int = 8) -> float:
        m = results.get(key)
        return m.load[clients].rate if m and clients in m.load else float("nan")

    print("\n== ratios of cycles/s ==")
    for key in ("a", "b"):
        if key in results:
            for clients in (1, 8):
                print(
                    f"{results[key].name:42} {clients} client(s): "
                    f"{rate(key, clients) / rate('c', clients):5.2f}x the seed pattern, "
                    f"{rate(key, clients) / rate('d', clients):5.2f}x redis-py"
                )
    if "c" in results:
        print(f"{results['c'].name:42} 8 clients: {rate('c') / rate('d'):5.2f}x redis-py")

    report_details(results)
    report_targets(results, rate)


def report_details(results: dict[str, Measured]) -> None:
    print(
        "\n== Dapr round trips per request (daprd API log, sequential requests): "
        "while served + after the response =="
    )
    for m in results.values():
        for op, t in m.trips.items():
            print(f"{m.name:42} {op:9} {t.request:5.2f} + {t.after:5.2f}   {t.methods}")

    print("\n== resident memory after the load (MiB) ==")
    for m in results.values():
        print(f"{m.name:42} app {m.rss_app:6.1f}   daprd {m.rss_daprd:6.1f}")

    print("\n== Task API with tasks stored ==")
    for m in results.values():
        for p in m.scale:
            print(
                f"{m.name:42} {p.stored:7d} stored: create {p.create_rate:6.1f}/s "
                f"(p50 {p.create_p50:.2f} ms, 8 clients)   first list page p50 "
                f"{p.list_p50:.2f} ms   single GET p50 {p.get_p50:.2f} ms"
            )


def report_targets(results: dict[str, Measured], rate: Callable[..., float]) -> None:
    print("\n== targets (issue 10) ==")
    for key in ("a", "b"):
        found = results.get(key)
        if found is None or 8 not in found.load:
            continue
        m = found
        r8, r1 = m.load[8], m.load.get(1)
        lines = [
            ("8 clients >= 2.5x seed cycles/s", rate(key) / rate("c"), 2.5, ">="),
            (
                "create p99 <= 4x create p50 (8 clients)",
                r8.p("create", 0.99) / r8.p("create", 0.5),
                4.0,
                "<=",
            ),
        ]
        if r1 is not None and "d" in results and 1 in results["d"].load:
            lines.append(
                (
                    "sequential GET p50 - redis-py GET p50 (ms) <= 1.5",
                    r1.p("get", 0.5) - results["d"].load[1].p("get", 0.5),
                    1.5,
                    "<=",
                )
            )
        if len(m.scale) == 2:
            small, big = m.scale
            lines.append(
                (
                    f"create/s at {big.stored} >= 0.8x at {small.stored}",
                    big.create_rate / small.create_rate,
                    0.8,
                    ">=",
                )
            )
            lines.append(
                (
                    f"first page p50 <= 3x GET p50 at {big.stored}",
                    big.list_p50 / big.get_p50,
                    3.0,
                    "<=",
                )
            )
        for what, value, bound, op in lines:
            ok = value >= bound if op == ">=" else value <= bound
            print(f"{m.name:26} {what:52} {value:7.2f}  {'met' if ok else 'NOT met'}")


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="taskapi-bench-") as tmp:
        work = Path(args.keep or tmp)  # --keep DIR: logs stay for a look afterwards
        config = write_configuration(work / "dapr" / "config.yaml", work / "dapr" / "names.db")
        apilog = roundtrips.api_logging_configuration(work / "dapr")
        with RedisServer(work / "redis") as redis, PostgresServer(work / "postgres") as pg:
            factories = subjects.by_key(work, redis, config, pg)

            def drain() -> None:
                left, waited = settle.wait(redis.host, redis.port, args.phase_seconds)
                if waited > 1 or left:
                    print(
                        f"    waited {waited:.0f} s for the event backlog to drain "
                        f"({left} left: {settle.describe(redis.host, redis.port)})",
                        flush=True,
                    )

            steady: dict[str, list[sustained.Sustained]] = {k: [] for k in _order(args.only)}
            for index in range(args.rounds):
                for key in rounds.order("".join(steady), index):
                    with factories[key]() as subject:
                        print(
                            f"\n-- {subject.name}: sustained, {args.clients} clients, "
                            f"round {index + 1} of {args.rounds}",
                            flush=True,
                        )
                        got = sustained.measure(
                            subject, args.clients, args.duration, args.drain_seconds
                        )
                        steady[key].append(got)
                        sustained.report([got], args.duration)
            if args.rounds:
                sustained.report([rounds.pool(runs) for runs in steady.values()], args.duration)
                rounds.report(steady)
            if not args.burst:
                return 0
            results: dict[str, Measured] = {}
            for key in _order(args.only):
                with factories[key]() as subject:
                    results[key] = measure(subject, args, apilog, key in "ab", drain)
            print("\n######## burst phases (bounded cycles: the event path may lag past them)")
            report(results)
    return 0


def _order(only: str) -> Iterator[str]:
    wanted = set(only.split(","))
    yield from (k for k in "dcab" if k in wanted)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--duration", type=float, default=60, help="seconds of sustained load (max 1800)"
    )
    parser.add_argument("--clients", type=int, default=8, help="sustained clients (max 64)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="sustained rounds, the subjects' order reversed each round; figures pooled (max 6)",
    )
    parser.add_argument(
        "--drain-seconds",
        type=float,
        default=600,
        help="longest wait for the notifications after the sustained load",
    )
    parser.add_argument("--burst", action="store_true", help="also run the burst phases")
    parser.add_argument(
        "--cycles", type=int, default=100, help="burst cycles per client (max 1000)"
    )
    parser.add_argument("--small", type=int, default=1000, help="first stored-tasks point")
    parser.add_argument("--scale", type=int, default=100_000, help="second stored-tasks point")
    parser.add_argument(
        "--seed-seconds",
        type=float,
        default=900,
        help="time budget to seed (bulk-store) each stored-tasks point",
    )
    parser.add_argument(
        "--phase-seconds", type=float, default=180, help="time budget of each measured phase"
    )
    parser.add_argument(
        "--roundtrip-n",
        type=int,
        default=5,
        help="requests per kind counted (each waits for a quiet sidecar)",
    )
    parser.add_argument("--keep", help="work (and log) directory to keep, instead of a temp one")
    parser.add_argument("--only", default="a,b,c,d", help="subjects to run (a,b,c,d)")
    args = parser.parse_args()
    exit_on_sigterm()
    args.cycles = max(1, min(args.cycles, 1000))
    args.duration = max(1.0, min(args.duration, 1800.0))
    args.clients = max(1, min(args.clients, 64))
    args.rounds = max(0, min(args.rounds, 6))
    args.drain_seconds = max(10.0, min(args.drain_seconds, 1800.0))
    args.scale = max(args.small, min(args.scale, 200_000))
    args.seed_seconds = min(args.seed_seconds, 1800)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
