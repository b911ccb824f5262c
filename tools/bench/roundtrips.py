"""Dapr round trips per operation, counted from daprd's own API log.

daprd logs one "HTTP API Called" / "gRPC API Called" line per call an app makes to it
(health checks included: the SDK's DaprClient() probes /healthz/outbound first) when
its Configuration enables API logging (spec.logging.apiLogging). The sidecar is restarted
with that Configuration for this phase only (logging costs time, so the latency phases run
without it). Each of n sequential requests starts with a quiet log, and the lines are
counted twice: those written while the request was served (its own calls), and those
written after the response until the log is quiet again (the outbox publishing the
change's event and the app's subscription handling it: work the change causes too).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from harness.dapr import Daprd, write_configuration

_METHOD = re.compile(r'method="?([^" ]+(?: /[^" ]+)?)')


def api_logging_configuration(directory: Path) -> Path:
    path = write_configuration(
        directory / "config-apilog.yaml", directory / "names.db", name="daprconfig-apilog"
    )
    doc = yaml.safe_load(path.read_text())
    doc["spec"]["logging"] = {"apiLogging": {"enabled": True, "omitHealthChecks": False}}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _log(sidecar: Daprd) -> Path:
    return sidecar.workdir / f"daprd-{sidecar.app_id}.log"


def _calls(log: Path, offset: int) -> tuple[int, list[str]]:
    with log.open("rb") as f:
        f.seek(offset)
        data = f.read().decode(errors="replace")
    lines = [ln for ln in data.splitlines() if "API Called" in ln]
    return len(lines), lines


def _quiet(log: Path, quiet_seconds: float = 2.5, budget_seconds: float = 30) -> None:
    """Until the API log has not grown for ``quiet_seconds`` (events handled), bounded."""
    deadline = time.monotonic() + budget_seconds
    size, since = log.stat().st_size, time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = log.stat().st_size
        if now != size:
            size, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_seconds:
            return


@dataclass
class Trips:
    request: float  # Dapr calls made while the request was served
    after: float  # calls after the response: handling the change's event (outbox, subscription)
    methods: str  # the most frequent methods of both, per request


def per_operation(url: str, sidecar: Daprd, n: int, with_list: bool) -> dict[str, Trips]:
    """Dapr calls per request of each kind, n sequential requests, each in a quiet sidecar."""
    log = _log(sidecar)
    out: dict[str, Trips] = {}
    ids: list[str] = []
    with httpx.Client(base_url=url, timeout=30) as client:

        def measure(op: str, call: Callable[[int], object]) -> None:
            during = after = 0
            methods: Counter[str] = Counter()
            for i in range(n):
                _quiet(log)
                offset = log.stat().st_size
                call(i)
                in_request, _ = _calls(log, offset)
                _quiet(log)
                total, lines = _calls(log, offset)
                during += in_request
                after += total - in_request
                methods.update(m.group(1) for ln in lines if (m := _METHOD.search(ln)))
            top = ", ".join(f"{k.rsplit('/', 1)[-1]} x{v / n:g}" for k, v in methods.most_common(5))
            out[op] = Trips(during / n, after / n, top)

        def create(i: int) -> None:
            reply = client.post("/tasks", json={"title": f"rt {i}"})
            reply.raise_for_status()
            ids.append(reply.json()["id"])

        measure("create", create)
        measure("get", lambda i: client.get(f"/tasks/{ids[i]}").raise_for_status())
        measure(
            "complete",
            lambda i: client.put(
                f"/tasks/{ids[i]}/status", params={"status": "completed"}
            ).raise_for_status(),
        )
        if with_list:
            measure("list", lambda i: client.get("/tasks").raise_for_status())
    return out
