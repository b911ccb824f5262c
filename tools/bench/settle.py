"""Wait for the event backlog to drain before a measured phase.

Every Task API change publishes an event (through the outbox's internal topic, about a
second later) that both apps' subscriptions then handle. Measuring while a backlog from the
previous phase is still being handled would charge that work to the next phase. Every
Redis stream consumer group's pending + lag is read with redis-py (the bench extra).
"""

from __future__ import annotations

import time
from typing import Any, cast

import redis


def backlog(client: redis.Redis) -> int:
    total = 0
    for key in client.scan_iter(_type="STREAM", count=1000):
        for group in cast("list[dict[str, Any]]", client.xinfo_groups(key)):
            total += int(group.get("pending") or 0) + int(group.get("lag") or 0)
    return total


def wait(host: str, port: int, budget_seconds: float = 300) -> tuple[int, float]:
    """(backlog left, seconds waited): 0 left unless the budget ran out."""
    client = redis.Redis(host=host, port=port, decode_responses=True)
    start = time.monotonic()
    try:
        while True:
            left = backlog(client)
            waited = time.monotonic() - start
            if left == 0 or waited > budget_seconds:
                return left, waited
            time.sleep(0.5)
    finally:
        client.close()


def describe(host: str, port: int) -> str:
    """Which streams and groups hold the backlog (for the printed line)."""
    client = redis.Redis(host=host, port=port, decode_responses=True)
    try:
        parts = []
        for key in client.scan_iter(_type="STREAM", count=1000):
            for group in cast("list[dict[str, Any]]", client.xinfo_groups(key)):
                left = int(group.get("pending") or 0) + int(group.get("lag") or 0)
                if left:
                    parts.append(f"{key}/{group['name']}={left}")
        return ", ".join(parts) or "none"
    finally:
        client.close()
