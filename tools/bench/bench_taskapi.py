"""Measures the Task API through its real daprd and Redis on loopback, and prints numbers.

Latency per operation (sequential, so it is the cost of one request), throughput under a
few concurrent clients, the raw sidecar state API for comparison (what Dapr itself costs),
and the resident memory of the app and its sidecar. Every loop is bounded in count and
time. Targets are read from these numbers, never asserted in tests.

    scripts/bench.sh [--requests N] [--clients C]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests" / "integration" / "app")]

import httpx  # noqa: E402
from taskapi_stack import Stack  # noqa: E402

from harness.dapr import write_configuration  # noqa: E402
from harness.redis import RedisServer  # noqa: E402

TIME_BUDGET_SECONDS = 120  # per measured phase


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return (f"p50 {at(0.50):6.2f} ms   p90 {at(0.90):6.2f} ms   p99 {at(0.99):6.2f} ms   "
            f"mean {statistics.fmean(ordered) * 1000:6.2f} ms   n={len(ordered)}")


def timed(n: int, call: Callable[[int], object]) -> list[float]:
    samples: list[float] = []
    deadline = time.monotonic() + TIME_BUDGET_SECONDS
    for i in range(n):
        if time.monotonic() > deadline:
            break
        start = time.perf_counter()
        call(i)
        samples.append(time.perf_counter() - start)
    return samples


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(requests: int, clients: int) -> None:
    with tempfile.TemporaryDirectory(prefix="taskapi-bench-") as tmp:
        work = Path(tmp)
        with RedisServer(work / "redis") as redis:
            config = write_configuration(work / "dapr" / "config.yaml", work / "dapr" / "names.db")
            (work / "stack").mkdir()
            stack = Stack(work / "stack", redis.address, config).start()
            try:
                measure(stack, requests, clients)
            finally:
                stack.stop()


def measure(stack: Stack, requests: int, clients: int) -> None:
    api = stack.taskapi.url
    sidecar = stack.taskapi_sidecar.http_url
    client = httpx.Client(timeout=10)
    ids: list[str] = []

    def create(i: int) -> None:
        reply = client.post(f"{api}/tasks", json={"title": f"bench {i}", "priority": 3})
        reply.raise_for_status()
        ids.append(reply.json()["id"])

    def get(i: int) -> None:
        client.get(f"{api}/tasks/{ids[i % len(ids)]}").raise_for_status()

    def complete(i: int) -> None:
        url = f"{api}/tasks/{ids[i % len(ids)]}/status"
        client.put(url, params={"status": "in_progress"}).raise_for_status()

    def raw_save(i: int) -> None:
        body = [{"key": f"bench-raw-{i}", "value": {"n": i}}]
        client.post(f"{sidecar}/v1.0/state/statestore", json=body).raise_for_status()

    def raw_get(i: int) -> None:
        client.get(f"{sidecar}/v1.0/state/statestore/bench-raw-{i}").raise_for_status()

    timed(20, lambda i: client.get(f"{api}/health").raise_for_status())  # warm up
    print(f"Task API through daprd + redis-server on loopback ({requests} requests each)")
    rows = [
        ("POST /tasks (task + index, publish)", timed(requests, create)),
        ("GET /tasks/{id} (state get)", timed(requests, get)),
        ("PUT /tasks/{id}/status", timed(requests, complete)),
        ("daprd state save (HTTP, no app)", timed(requests, raw_save)),
        ("daprd state get (HTTP, no app)", timed(requests, raw_get)),
    ]
    for name, samples in rows:
        print(f"  {name:<36} {percentiles(samples)}")

    per_client = max(1, requests // clients)
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        def burst(c: int) -> int:
            own = httpx.Client(timeout=10)
            done = 0
            for i in range(per_client):
                own.post(f"{api}/tasks", json={"title": f"c{c}-{i}"}).raise_for_status()
                done += 1
            return done
        total = sum(pool.map(burst, range(clients)))
    elapsed = time.perf_counter() - started
    print(f"  concurrent creates: {clients} clients x {per_client} = {total} in "
          f"{elapsed:.2f} s -> {total / elapsed:.0f} creates/s")
    listed = client.get(f"{api}/tasks", params={"limit": 100}).json()
    print(f"  list page of {len(listed['items'])} after {len(ids) + total} creates")

    app_pid = stack.taskapi._proc.pid if stack.taskapi._proc else 0
    dapr_proc = stack.taskapi_sidecar._proc
    print("Resident memory after the run:")
    print(f"  taskapi (uvicorn, 1 worker) {rss_mib(app_pid):7.1f} MiB")
    if dapr_proc is not None:
        print(f"  daprd                       {rss_mib(dapr_proc.pid):7.1f} MiB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    run(min(args.requests, 5000), min(args.clients, 32))
    return 0


if __name__ == "__main__":
    sys.exit(main())
