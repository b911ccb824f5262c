"""Both apps, each with its own real daprd, on one real redis-server; loopback only.

Components come from components/local/ with the placeholders filled in, so the tests
exercise the same YAML a developer runs locally. Every stack gets unique app ids and
topics, so stacks sharing the session's redis-server never see each other's data.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any, Self

import httpx
import yaml

from harness.dapr import Daprd
from harness.ports import LOOPBACK, free_port
from harness.process import Process
from harness.repo import REPO

LOCAL_COMPONENTS = REPO / "components" / "local"
API_KEY = "integration-test-key"

# Fast retries so RETRY paths finish within a test's patience; a pending message is reclaimed
# only after processingTimeout, longer than the outbox holds one (~1 s, up to ~11 s for a
# transaction that never committed), so messages in progress are not delivered twice.
PUBSUB_TEST_METADATA = {"redeliverInterval": "1s", "processingTimeout": "15s"}
TEST_RETRY = {"policy": "constant", "duration": "500ms", "maxRetries": 60}


def write_resources(
    target: Path,
    redis_address: str,
    secrets_file: Path,
    topic: str,
    postgres: str | None = None,
    *,
    outbox: bool = True,
) -> Path:
    """components/local/ with its placeholders filled in, tuned for tests.

    postgres: a libpq connection string to swap the state store for
    components/local/postgresql/statestore.yaml (same name, same Python code).
    The outbox publishes to the stack's own topic.
    """
    target.mkdir(parents=True, exist_ok=True)
    sources = {s.name: s for s in LOCAL_COMPONENTS.glob("*.yaml")}
    if postgres is not None:
        sources["statestore.yaml"] = LOCAL_COMPONENTS / "postgresql" / "statestore.yaml"
    fill = {
        "REDIS_ADDRESS": redis_address,
        "SECRETS_FILE": str(secrets_file),
        "POSTGRES_CONNECTION_STRING": postgres or "",
    }
    for name, source in sources.items():
        doc: dict[str, Any] = yaml.safe_load(source.read_text())
        if doc["kind"] == "Configuration":
            continue  # the harness writes the shared Configuration
        spec = doc["spec"]
        if doc["kind"] == "Resiliency":
            for policy in spec["policies"]["retries"]:
                spec["policies"]["retries"][policy] = TEST_RETRY
        else:
            items = {m["name"]: m for m in spec.get("metadata", [])}
            for item in items.values():
                if item.get("value") in fill:
                    item["value"] = fill[item["value"]]
            if spec["type"].startswith("pubsub."):
                for key, value in PUBSUB_TEST_METADATA.items():
                    items[key] = {"name": key, "value": value}
            if "outboxPublishTopic" in items:
                items["outboxPublishTopic"]["value"] = topic
            if not outbox:  # a state store as a user might reference it, without the outbox
                items = {k: v for k, v in items.items() if not k.startswith("outbox")}
            spec["metadata"] = list(items.values())
        (target / name).write_text(yaml.safe_dump(doc, sort_keys=False))
    return target


class App:
    """One uvicorn-served app on a fixed loopback port (so it can be stopped and restarted)."""

    def __init__(self, name: str, script: str, env: dict[str, str], workdir: Path) -> None:
        self.name = name
        self.script = script
        self.env = env
        self.workdir = workdir
        self.port = free_port()
        self._proc: Process | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> Self:
        # the console script the image's ENTRYPOINT runs, bound to loopback by its settings
        argv = [str(Path(sys.executable).parent / self.script)]
        prefix = "NOTIFIER" if self.script == "notification-service" else "TASKAPI"
        env = {
            **os.environ,
            **self.env,
            f"{prefix}_HOST": LOOPBACK,
            f"{prefix}_PORT": str(self.port),
        }
        self._proc = Process(self.name, argv, self.workdir / f"{self.name}.log", env=env).start()
        self._proc.wait_until(lambda: _get(f"{self.url}/health") == 200, 30, "serving /health")
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        assert self._proc is not None
        self._proc.wait_until(lambda: _get(f"{self.url}/ready") == 200, timeout, "ready")

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.stop()
            self._proc = None


class Stack:
    def __init__(
        self,
        workdir: Path,
        redis_address: str,
        config: Path,
        postgres: str | None = None,
        outbox: bool = True,
    ) -> None:
        suffix = uuid.uuid4().hex[:6]
        self.workdir = workdir
        self.config = config
        self.store = "postgresql" if postgres else "redis"
        self.postgres = postgres
        self.taskapi_id = f"taskapi-{suffix}"
        self.notifier_id = f"notification-service-{suffix}"
        self.topic = f"task-events-{suffix}"
        secrets_file = workdir / "secrets.json"
        secrets_file.write_text(json.dumps({"notification-api-key": {"api-key": API_KEY}}))
        self.resources = write_resources(
            workdir / "resources", redis_address, secrets_file, self.topic, postgres, outbox=outbox
        )
        self.notifier_sidecar = Daprd(
            self.notifier_id, None, self.resources, workdir, config=config
        )
        self.taskapi_sidecar = Daprd(self.taskapi_id, None, self.resources, workdir, config=config)
        self.notifier = App(
            "notifier",
            "notification-service",
            {
                **self.notifier_sidecar.app_env(),
                "DAPR_HEALTH_TIMEOUT": "2",
                "NOTIFIER_REPLICA": "notifier",
            },
            workdir,
        )
        self.taskapi = App(
            "taskapi",
            "taskapi",
            {
                **self.taskapi_sidecar.app_env(),
                "DAPR_HEALTH_TIMEOUT": "2",
                "TASKAPI_TOPIC": self.topic,
                "TASKAPI_DEAD_LETTER_TOPIC": f"{self.topic}-deadletter",
                "TASKAPI_NOTIFICATION_APP_ID": self.notifier_id,
                "TASKAPI_DAPR_CALL_TIMEOUT_SECONDS": "10",
            },
            workdir,
        )
        self._extra: list[tuple[App, Daprd]] = []
        self.notifier_sidecar.app_port = self.notifier.port
        self.taskapi_sidecar.app_port = self.taskapi.port

    def start(self) -> Self:
        # Apps first: they serve /health while their sidecar starts, as in a Pod.
        self.notifier.start()
        self.taskapi.start()
        self.notifier_sidecar.start()
        self.taskapi_sidecar.start()
        self.notifier.wait_ready()
        self.taskapi.wait_ready()
        # Healthy = app channel up and /dapr/subscribe read.
        self.taskapi_sidecar.wait_healthy()
        self.notifier_sidecar.wait_healthy()
        return self

    def add_notifier_replica(self, name: str) -> tuple[App, Daprd]:
        """Another notification-service process with its own daprd, under the same app id:
        Dapr's name resolution spreads invocations over the replicas."""
        workdir = self.workdir / name
        workdir.mkdir()
        sidecar = Daprd(self.notifier_id, None, self.resources, workdir, config=self.config)
        app = App(
            name,
            "notification-service",
            {
                **sidecar.app_env(),
                "DAPR_HEALTH_TIMEOUT": "2",
                "NOTIFIER_REPLICA": name,
                "NOTIFIER_LOG_FORMAT": "json",
            },
            workdir,
        )
        sidecar.app_port = app.port
        self._extra.append((app, sidecar))
        app.start()
        sidecar.start()
        app.wait_ready()
        sidecar.wait_healthy()
        return app, sidecar

    def restart_taskapi_sidecar(self) -> None:
        """A new daprd on the same ports (the app's client keeps pointing there)."""
        old = self.taskapi_sidecar
        old.stop()
        self.taskapi_sidecar = Daprd(
            old.app_id,
            old.app_port,
            old.resources_dir,
            old.workdir,
            config=old.config,
            http_port=old.http_port,
            grpc_port=old.grpc_port,
            public_port=old.public_port,
        )
        self.taskapi_sidecar.start()
        self.taskapi_sidecar.wait_healthy()

    def stop(self) -> None:
        for app, sidecar in self._extra:
            sidecar.stop()
            app.stop()
        for part in (self.taskapi_sidecar, self.notifier_sidecar):
            part.stop()
        for app in (self.taskapi, self.notifier):
            app.stop()


def _get(url: str) -> int:
    return httpx.get(url, timeout=2).status_code
