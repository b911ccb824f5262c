"""The four programs the benchmark compares, each started on loopback and stopped after.

(a)/(b) this Task API (tests/integration/app's Stack: both apps, each with its own daprd)
on the Redis or the PostgreSQL state store; (c) the seed lesson's app as it writes it, with
a minimal notification-service behind its own daprd (tools/bench/seed_app.py,
seed_notifier.py), and (d) redis-py directly (redis_app.py). All share one redis-server
(state of (a)/(c), and pub/sub of (a)/(b)/(c)) and one daprd build.

Each subject names its processes (``parts``: app, daprd, notifier, its daprd, the stores)
so the sustained benchmark can charge CPU and memory to every one of them.
"""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from harness.dapr import Daprd
from harness.ports import LOOPBACK, free_port
from harness.postgres import PostgresServer
from harness.process import Process
from harness.redis import RedisServer
from harness.taskapi_stack import Stack

HERE = Path(__file__).resolve().parent


@dataclass
class Subject:
    name: str
    url: str
    app_pid: int
    sidecar: Daprd | None
    # Replace the sidecar by one started with ``config`` (same ports); None without Dapr.
    restart_sidecar: Callable[[Path], Daprd] | None
    # Answers 200 once the app can serve requests through its (new) sidecar.
    ready_path: str = "/health"
    # The live root pid of every process of the subject, by a short name (called when
    # measured: a restarted sidecar has a new pid).
    parts: Callable[[], dict[str, int]] = dict
    # GET lists what notification-service recorded (None: the subject notifies no one).
    notifications_url: str | None = None


def rss_mib(pid: int | None) -> float:
    if pid is None:
        return float("nan")
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _pid(part: Any) -> int:
    proc = part._proc  # harness objects keep their Process private
    assert proc is not None
    return int(proc.pid)


def _stores(redis: RedisServer, pg: PostgresServer | None) -> dict[str, int]:
    stores = {"redis-server": _pid(redis)}
    if pg is not None:
        stores["postgres"] = _pid(pg)
    return stores


def sidecar_pid(subject: Subject) -> int | None:
    return (
        _pid(subject.sidecar) if subject.sidecar is not None and subject.sidecar.running() else None
    )


@contextlib.contextmanager
def taskapi(
    workdir: Path, redis: RedisServer, config: Path, pg: PostgresServer | None = None
) -> Iterator[Subject]:
    workdir.mkdir(parents=True, exist_ok=True)
    # On PostgreSQL: its own database, and components/local/postgresql/statestore.yaml in
    # place of the Redis one (the swap a user makes); pub/sub stays on Redis.
    postgres = pg.create_database(f"bench_{uuid.uuid4().hex[:8]}") if pg is not None else None
    stack = Stack(workdir, redis.address, config, postgres)
    try:
        stack.start()

        def restart(new_config: Path) -> Daprd:
            stack.taskapi_sidecar.config = new_config
            stack.restart_taskapi_sidecar()
            return stack.taskapi_sidecar

        def parts() -> dict[str, int]:
            return {
                "app": _pid(stack.taskapi),
                "daprd": _pid(stack.taskapi_sidecar),
                "notifier": _pid(stack.notifier),
                "daprd(notifier)": _pid(stack.notifier_sidecar),
                **_stores(redis, pg),
            }

        yield Subject(
            "Task API on PostgreSQL" if pg else "Task API on Redis",
            stack.taskapi.url,
            _pid(stack.taskapi),
            stack.taskapi_sidecar,
            restart,
            ready_path="/ready",
            parts=parts,
            notifications_url=f"{stack.notifier.url}/notifications",
        )
    finally:
        stack.stop()


def _uvicorn(
    name: str, module: str, env: dict[str, str], workdir: Path, port: int | None = None
) -> tuple[Process, str]:
    port = port or free_port()
    proc = Process(
        name,
        [
            sys.executable,
            "-m",
            "uvicorn",
            f"{module}:app",
            "--app-dir",
            str(HERE),
            "--host",
            LOOPBACK,
            "--port",
            str(port),
            "--workers",
            "1",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        workdir / f"{name}.log",
        env={**os.environ, **env},
    ).start()
    url = f"http://{LOOPBACK}:{port}"
    proc.wait_until(
        lambda: httpx.get(f"{url}/health", timeout=2).status_code == 200, 60, "serving /health"
    )
    return proc, url


def _write_components(directory: Path, redis: RedisServer) -> Path:
    """Plain state.redis + pubsub.redis on the shared redis-server (what the seed used)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, kind in (("statestore", "state.redis"), ("pubsub", "pubsub.redis")):
        doc = {
            "apiVersion": "dapr.io/v1alpha1",
            "kind": "Component",
            "metadata": {"name": name},
            "spec": {
                "type": kind,
                "version": "v1",
                "metadata": [{"name": "redisHost", "value": redis.address}],
            },
        }
        (directory / f"{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return directory


@contextlib.contextmanager
def seed_pattern(workdir: Path, redis: RedisServer, config: Path) -> Iterator[Subject]:
    """The lesson's app and a minimal notification-service, each behind its own daprd."""
    workdir.mkdir(parents=True, exist_ok=True)
    resources = _write_components(workdir / "resources", redis)
    suffix = uuid.uuid4().hex[:6]
    app_id, notify_id = f"seed-{suffix}", f"seed-notify-{suffix}"
    app_port, notify_port = free_port(), free_port()
    holder: dict[str, Daprd] = {}
    holder["d"] = Daprd(app_id, app_port, resources, workdir, config=config).start()
    notify_sidecar = Daprd(notify_id, notify_port, resources, workdir, config=config).start()
    procs: list[Process] = []
    try:
        notifier, notifier_url = _uvicorn(
            "seed-notifier", "seed_notifier", {}, workdir, notify_port
        )
        procs.append(notifier)
        env = {
            **holder["d"].app_env(),
            "BENCH_TOPIC": f"seed-events-{app_id}",
            "BENCH_NOTIFY_APP_ID": notify_id,
        }
        app, url = _uvicorn("seed-app", "seed_app", env, workdir, app_port)
        procs.append(app)
        holder["d"].wait_healthy()  # app channel up, /dapr/subscribe read
        notify_sidecar.wait_healthy()

        def restart(new_config: Path) -> Daprd:
            old = holder["d"]
            old.stop()
            holder["d"] = Daprd(
                old.app_id,
                old.app_port,
                resources,
                workdir,
                config=new_config,
                http_port=old.http_port,
                grpc_port=old.grpc_port,
                public_port=old.public_port,
            ).start()
            return holder["d"]

        def parts() -> dict[str, int]:
            return {
                "app": app.pid,
                "daprd": _pid(holder["d"]),
                "notifier": notifier.pid,
                "daprd(notifier)": _pid(notify_sidecar),
                "redis-server": _pid(redis),
            }

        yield Subject(
            "seed lesson's app (envelope fix)",
            url,
            app.pid,
            holder["d"],
            restart,
            parts=parts,
            notifications_url=f"{notifier_url}/notifications",
        )
    finally:
        for proc in reversed(procs):
            proc.stop()
        holder["d"].stop()
        notify_sidecar.stop()


@contextlib.contextmanager
def redis_py(workdir: Path, redis: RedisServer) -> Iterator[Subject]:
    workdir.mkdir(parents=True, exist_ok=True)
    app, url = _uvicorn(
        "redis-py-app",
        "redis_app",
        {"BENCH_REDIS_HOST": redis.host, "BENCH_REDIS_PORT": str(redis.port)},
        workdir,
    )
    try:
        yield Subject(
            "FastAPI + redis-py (no Dapr)",
            url,
            app.pid,
            None,
            None,
            parts=lambda: {"app": app.pid, "redis-server": _pid(redis)},
        )
    finally:
        app.stop()


Starter = Callable[[], AbstractContextManager[Subject]]


def by_key(work: Path, redis: RedisServer, config: Path, pg: PostgresServer) -> dict[str, Starter]:
    """The four subjects by their letter in the benchmark's output, each in its own dir."""
    return {
        "a": lambda: taskapi(work / "taskapi-redis", redis, config),
        "b": lambda: taskapi(work / "taskapi-pg", redis, config, pg),
        "c": lambda: seed_pattern(work / "seed", redis, config),
        "d": lambda: redis_py(work / "redis-py", redis),
    }
