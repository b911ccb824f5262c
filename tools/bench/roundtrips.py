"""Dapr round trips per operation, counted from daprd's own API log.

daprd logs one "HTTP API Called" / "gRPC API Called" line per call an app makes to it when
its Configuration enables API logging (spec.logging.apiLogging). The sidecar is restarted
with that Configuration for this phase only (logging costs time, so the latency phases run
without it); n sequential requests of one kind are made and the new lines counted.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

import httpx
import yaml

from harness.dapr import Daprd, write_configuration

_METHOD = re.compile(r'method="?([^" ]+(?: /[^" ]+)?)')


def api_logging_configuration(directory: Path) -> Path:
    path = write_configuration(directory / "config-apilog.yaml", directory / "names.db",
                               name="daprconfig-apilog")
    doc = yaml.safe_load(path.read_text())
    doc["spec"]["logging"] = {"apiLogging": {"enabled": True, "omitHealthChecks": True}}
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


def per_operation(
    url: str, sidecar: Daprd, n: int, with_list: bool
) -> dict[str, tuple[float, str]]:
    """{operation: (Dapr calls per request, the most frequent methods)} over n requests."""
    log = _log(sidecar)
    out: dict[str, tuple[float, str]] = {}
    ids: list[str] = []
    with httpx.Client(base_url=url, timeout=30) as client:
        def measure(op: str, call: object) -> None:
            time.sleep(0.5)  # let background calls of the previous phase finish
            offset = log.stat().st_size
            for i in range(n):
                call(i)  # type: ignore[operator]
            time.sleep(0.5)
            count, lines = _calls(log, offset)
            methods = Counter(m.group(1) for ln in lines if (m := _METHOD.search(ln)))
            top = ", ".join(f"{k.rsplit('/', 1)[-1]}x{v / n:g}" for k, v in methods.most_common(4))
            out[op] = (count / n, top)

        def create(i: int) -> None:
            reply = client.post("/tasks", json={"title": f"rt {i}"})
            reply.raise_for_status()
            ids.append(reply.json()["id"])

        measure("create", create)
        measure("get", lambda i: client.get(f"/tasks/{ids[i]}").raise_for_status())
        measure("complete", lambda i: client.put(f"/tasks/{ids[i]}/status",
                                                 params={"status": "completed"}).raise_for_status())
        if with_list:
            measure("list", lambda i: client.get("/tasks").raise_for_status())
    return out
