"""Helpers of the operator integration tests: waiting, reading TaskApis, counting writes."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.kube import Cluster

REPO = Path(__file__).resolve().parents[3]
CRD = REPO / "crds" / "taskapi.yaml"
SAMPLE = REPO / "deploy" / "samples" / "taskapi.yaml"
# The operator under test re-reconciles everything this often.
RESYNC_SECONDS = 2


@dataclass(frozen=True)
class RunningOperator:
    cluster: Cluster
    user: str
    probe_port: int
    liveness_url: str
    log: Path
    process: subprocess.Popen[bytes]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def live(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - loopback
            return bool(resp.status == 200)
    except OSError:
        return False


def wait_for(
    predicate: Callable[[], Any], timeout: float, what: str, operator: RunningOperator | None = None
) -> Any:
    """Poll within a bounded time; on timeout say what was awaited and show the last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except (subprocess.CalledProcessError, KeyError, IndexError, TypeError) as e:
            last = e
        else:
            if last:
                return last
        time.sleep(0.5)
    tail = "\n".join(operator.log_text().splitlines()[-30:]) if operator else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last={last!r}\n{tail}")


def get_json(cluster: Cluster, *args: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)
    return found


def sample(name: str = "taskapi-sample", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = yaml.safe_load(SAMPLE.read_text())
    body["metadata"]["name"] = name
    body["spec"].update(spec)
    return body


def apply(cluster: Cluster, namespace: str, body: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(body))


def create_secrets(cluster: Cluster, namespace: str) -> None:
    """The Secrets the sample references (Redis password, notification API key)."""
    cluster.kubectl(
        "create", "secret", "generic", "redis", "-n", namespace, "--from-literal=redis-password=pw"
    )
    cluster.kubectl(
        "create",
        "secret",
        "generic",
        "notification-api-key",
        "-n",
        namespace,
        "--from-literal=api-key=k",
    )


def condition(taskapi: dict[str, Any], kind: str) -> dict[str, Any]:
    for cond in (taskapi.get("status") or {}).get("conditions") or []:
        if cond["type"] == kind:
            return dict(cond)
    return {}


def operator_writes(cluster: Cluster, user: str, namespace: str) -> list[str]:
    """Write requests the apiserver audited for ``user`` in ``namespace``."""
    writes = []
    for event in cluster.write_requests():
        ref = event.get("objectRef") or {}
        if (event.get("user") or {}).get("username") == user and ref.get("namespace") == namespace:
            writes.append(
                f"{event['verb']} {ref.get('resource')}/{ref.get('name', '')}"
                f"{'/' + ref['subresource'] if ref.get('subresource') else ''}"
            )
    return writes
