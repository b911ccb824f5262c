"""The four programs the benchmark compares, each started on loopback and stopped after.

(a)/(b) this Task API (tests/integration/app's Stack: both apps, each with its own daprd)
on the Redis or the PostgreSQL state store; (c) the seed lesson's pattern and (d) redis-py
directly (tools/bench/seed_app.py, redis_app.py). All share one redis-server (state of
(a)/(c), and pub/sub of (a)/(b)/(c)) and one daprd build.
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

        yield Subject(
            "Task API on PostgreSQL" if pg else "Task API on Redis",
            stack.taskapi.url,
            _pid(stack.taskapi),
            stack.taskapi_sidecar,
            restart,
            ready_path="/ready",
        )
    finally:
        stack.stop()


def _uvicorn(name: str, module: str, env: dict[str, str], workdir: Path) -> tuple[Process, str]:
    port = free_port()
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
    workdir.mkdir(parents=True, exist_ok=True)
    resources = _write_components(workdir / "resources", redis)
    holder: dict[str, Daprd] = {}
    app_id = f"seed-{uuid.uuid4().hex[:6]}"
    holder["d"] = Daprd(app_id, None, resources, workdir, config=config).start()
    app: Process | None = None
    try:
        app, url = _uvicorn(
            "seed-app",
            "seed_app",
            {**holder["d"].app_env(), "BENCH_TOPIC": f"seed-events-{app_id}"},
            workdir,
        )

        def restart(new_config: Path) -> Daprd:
            old = holder["d"]
            old.stop()
            holder["d"] = Daprd(
                old.app_id,
                None,
                resources,
                workdir,
                config=new_config,
                http_port=old.http_port,
                grpc_port=old.grpc_port,
                public_port=old.public_port,
            ).start()
            return holder["d"]

        yield Subject("seed pattern (DaprClient per request)", url, app.pid, holder["d"], restart)
    finally:
        if app is not None:
            app.stop()
        holder["d"].stop()


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
        yield Subject("FastAPI + redis-py (no Dapr)", url, app.pid, None, None)
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
