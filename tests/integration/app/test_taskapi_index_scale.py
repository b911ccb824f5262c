"""The index past one page per shard: every value stays small, every task listed once.

1,100 tasks fill more than one 128-entry page in most of the 8 shards, so creates roll over
to new pages while other creates run. Then the largest value the stack stored is read from
the store itself (Redis or PostgreSQL), and a paged walk lists every task exactly once.
"""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from harness.postgres import PostgresServer
from harness.redis import RedisServer
from harness.taskapi_stack import Stack

pytestmark = pytest.mark.integration

TASKS = 1100
CLIENTS = 8
LIMIT_BYTES = 64 * 1024
MAX_VALUE_LUA = (
    "local m = 0 for _, k in ipairs(redis.call('KEYS', ARGV[1])) do "
    "local l = redis.call('HSTRLEN', k, 'data') if l > m then m = l end end return m"
)


def _largest_value(stack: Stack, request: pytest.FixtureRequest) -> int:
    pattern = f"{stack.taskapi_id}||*"
    if stack.store == "redis":
        redis: RedisServer = request.getfixturevalue("redis_server")
        reply = redis.command("EVAL", MAX_VALUE_LUA, "0", pattern).decode()
        assert reply.startswith(":"), reply
        return int(reply[1:].strip())
    postgres: PostgresServer = request.getfixturevalue("postgres_server")
    assert stack.postgres is not None
    database = re.search(r"dbname=(\S+)", stack.postgres)
    assert database is not None
    # The app id is ours (taskapi-<hex>), not input: plain SQL is fine here.
    query = (
        f"SELECT max(octet_length(value::text)) FROM {postgres.state_table()} "  # noqa: S608
        f"WHERE key LIKE '{stack.taskapi_id}||%'"
    )
    out = postgres.sql(query, database=database.group(1))
    return int(out.strip())


async def test_many_tasks_keep_values_small_and_list_exactly_once(
    aapi: httpx.AsyncClient, stack: Stack, request: pytest.FixtureRequest
) -> None:
    created: list[str] = []

    async def client(n: int) -> None:
        for i in range(n, TASKS, CLIENTS):
            resp = await aapi.post("/tasks", json={"title": f"bulk {i}"})
            assert resp.status_code == 201, resp.text
            created.append(resp.json()["id"])

    async with aapi:
        await asyncio.gather(*(client(n) for n in range(CLIENTS)))
        listed: list[str] = []
        cursor: str | None = None
        for _ in range(TASKS):  # bounded walk
            params: dict[str, str | int] = {"limit": 100}
            if cursor:
                params["cursor"] = cursor
            resp = await aapi.get("/tasks", params=params)
            assert resp.status_code == 200, resp.text
            page = resp.json()
            listed += [t["id"] for t in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert len(listed) == len(set(listed))
    assert set(created) <= set(listed)
    largest = _largest_value(stack, request)
    print(f"\n{stack.store}: {TASKS} tasks, largest stored value {largest} bytes")
    assert 0 < largest < LIMIT_BYTES
