"""CPU cost per create -> get -> complete cycle of each process of a subject (ms of CPU).

Throughput on a shared 2-core machine moves with the neighbours; CPU seconds spent per
cycle by the app, its daprd and the rest of the stack move far less, so this is what to
compare when changing the Task API's data path:

    .venv/bin/python tools/bench/cpucost.py [--subject a|b|c|d] [--clients 8] [--cycles 200]

Counted from /proc/<pid>/stat over the load and the event backlog it leaves (drained).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import load
import settle
import subjects

from harness.dapr import write_configuration
from harness.lifecycle import exit_on_sigterm
from harness.postgres import PostgresServer
from harness.redis import RedisServer

IDLE_SECONDS = 10
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """CPU time of the processes (one that has exited since counts nothing)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def stack_pids() -> dict[str, list[int]]:
    """The live processes of interest on the machine, by a short name (app, daprd...);
    PostgreSQL's work happens in one backend process per connection, all counted."""
    found: dict[str, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if cmd.startswith("postgres") or "/bin/postgres " in cmd:  # server and backends
            found.setdefault("postgres", []).append(int(entry.name))
            continue
        for name, marker in (
            ("taskapi", "bin/taskapi"),
            ("notifier", "notification-service "),
            ("daprd(taskapi)", "--app-id=taskapi-"),
            ("daprd(notifier)", "--app-id=notification-service-"),
            ("daprd(seed)", "--app-id=seed-"),
            ("seed-app", "seed_app"),
            ("redis-py-app", "redis_app"),
            ("redis-server", "redis-server"),
        ):
            if marker in cmd and name not in found:
                found[name] = [int(entry.name)]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subject", default="a", choices="abcd")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--cycles", type=int, default=200, help="per client (max 1000)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    exit_on_sigterm()
    cycles = max(1, min(args.cycles, 1000))
    with tempfile.TemporaryDirectory(prefix="taskapi-cpucost-") as tmp:
        work = Path(tmp)
        config = write_configuration(work / "dapr" / "config.yaml", work / "dapr" / "names.db")
        with RedisServer(work / "redis") as redis, PostgresServer(work / "postgres") as pg:
            start = subjects.by_key(work, redis, config, pg)[args.subject]
            with start() as subject:
                load.run_sync(subject.url, load.cycle, clients=1, per_client=20, budget_seconds=60)
                settle.wait(redis.host, redis.port, 120)
                pids = stack_pids()
                before = {n: cpu_seconds(p) for n, p in pids.items()}
                time.sleep(IDLE_SECONDS)
                idle = {n: (cpu_seconds(p) - before[n]) / IDLE_SECONDS for n, p in pids.items()}
                print(
                    "idle CPU (ms per s): "
                    + ", ".join(f"{n} {v * 1000:.0f}" for n, v in sorted(idle.items())),
                    flush=True,
                )
                for _ in range(max(1, min(args.rounds, 5))):
                    pids = stack_pids()
                    before = {n: cpu_seconds(p) for n, p in pids.items()}
                    own = os.times()
                    started = time.monotonic()
                    result = load.run_sync(
                        subject.url,
                        load.cycle,
                        clients=args.clients,
                        per_client=cycles,
                        budget_seconds=300,
                    )
                    mine = os.times()
                    loaded = {n: cpu_seconds(p) for n, p in pids.items()}
                    settle.wait(redis.host, redis.port, 300)
                    elapsed = time.monotonic() - started
                    done = max(1, result.done)
                    print(
                        f"{subject.name}: {result.done} cycles at {result.rate:.0f}/s, "
                        f"{result.errors} errors; CPU ms per cycle:"
                    )
                    total = 0.0
                    for name, pid in sorted(pids.items()):
                        spent = (cpu_seconds(pid) - before[name]) * 1000 / done
                        # what the process burns anyway (polling), charged over the same time
                        spent -= idle.get(name, 0.0) * elapsed * 1000 / done
                        total += spent
                        during = (loaded[name] - before[name]) * 1000 / done
                        print(f"    {name:18} {spent:6.2f}   ({during:5.2f} while loaded)")
                    gen = ((mine.user + mine.system) - (own.user + own.system)) * 1000 / done
                    print(
                        f"    {'stack total':18} {total:6.2f}   (load generator {gen:.2f})",
                        flush=True,
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
