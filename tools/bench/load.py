"""Closed-loop HTTP load on loopback: N clients, each looping a bounded number of times.

Each client has its own connection (as separate users would), requests are timed one by
one, and every loop stops at its count or at the phase's time budget, whichever is first.
A failed request is counted, never retried, and its cycle is not counted as done.

The clients run in the benchmark's own process, on the same 2 cores as the subjects, so
they must cost little: aiohttp spends about a third of the CPU per request that httpx's
AsyncClient does, which otherwise would be taken from whichever subject is fastest.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

TIMEOUT = aiohttp.ClientTimeout(total=30.0)


@dataclass(frozen=True)
class Reply:
    status_code: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """One keep-alive connection to the subject; a request returns its whole reply."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def request(
        self, method: str, path: str, *, json_body: Any = None, params: dict[str, str] | None = None
    ) -> Reply:
        async with self._session.request(method, path, json=json_body, params=params) as r:
            return Reply(r.status, await r.read())

    def get(self, path: str) -> Awaitable[Reply]:
        return self.request("GET", path)

    def post(self, path: str, json: Any) -> Awaitable[Reply]:
        return self.request("POST", path, json_body=json)

    def put(self, path: str, params: dict[str, str]) -> Awaitable[Reply]:
        return self.request("PUT", path, params=params)


@dataclass
class Result:
    clients: int
    done: int = 0  # completed cycles (or requests, for single-operation loads)
    errors: int = 0
    seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0

    def p(self, op: str, q: float) -> float:
        """The q-quantile latency of ``op`` in milliseconds (nearest rank)."""
        ordered = sorted(self.latencies.get(op, []))
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def mean(self, op: str) -> float:
        samples = self.latencies.get(op, [])
        return statistics.fmean(samples) * 1000 if samples else float("nan")


Step = Callable[[Client, int, Result], Awaitable[bool]]


async def timed(result: Result, op: str, call: Awaitable[Reply]) -> Reply:
    start = time.perf_counter()
    reply = await call
    result.latencies[op].append(time.perf_counter() - start)
    return reply


async def cycle(client: Client, i: int, result: Result) -> bool:
    """create -> get -> complete, the load the issue's targets are stated for."""
    reply = await timed(result, "create", client.post("/tasks", json={"title": f"bench {i}"}))
    if reply.status_code != 201:
        return False
    task_id = reply.json()["id"]
    if (await timed(result, "get", client.get(f"/tasks/{task_id}"))).status_code != 200:
        return False
    reply = await timed(
        result, "complete", client.put(f"/tasks/{task_id}/status", params={"status": "completed"})
    )
    return reply.status_code == 200


async def create(client: Client, i: int, result: Result) -> bool:
    reply = await timed(result, "create", client.post("/tasks", json={"title": f"seed {i}"}))
    return reply.status_code == 201


async def first_page(client: Client, i: int, result: Result) -> bool:
    reply = await timed(result, "list", client.get("/tasks"))
    return reply.status_code == 200 and bool(reply.json().get("items"))


async def run(
    base_url: str,
    step: Step,
    *,
    clients: int,
    per_client: int,
    budget_seconds: float,
    max_consecutive_errors: int = 50,
) -> Result:
    result = Result(clients=clients)
    deadline = time.monotonic() + budget_seconds

    async def worker(c: int) -> None:
        failures = 0
        connector = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(base_url, timeout=TIMEOUT, connector=connector) as s:
            client = Client(s)
            for i in range(per_client):
                if time.monotonic() > deadline or failures >= max_consecutive_errors:
                    return
                try:
                    ok = await step(client, c * per_client + i, result)
                except (aiohttp.ClientError, TimeoutError):
                    ok = False
                if ok:
                    result.done += 1
                    failures = 0
                else:
                    result.errors += 1
                    failures += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in range(clients)))
    result.seconds = time.perf_counter() - start
    return result


def run_sync(base_url: str, step: Step, **kwargs: float | int) -> Result:
    return asyncio.run(run(base_url, step, **kwargs))  # type: ignore[arg-type]
