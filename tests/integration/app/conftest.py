"""Fixtures for the Task API integration tests: a running two-app stack per test module."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.postgres import PostgresServer
from harness.redis import RedisServer
from harness.taskapi_stack import Stack

STORES = ["redis", "postgresql"]


@pytest.fixture(scope="module", params=STORES)
def stack(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    redis_server: RedisServer,
    dapr_configuration: Path,
) -> Iterator[Stack]:
    """The two apps on the state store named by the parameter; pub/sub is Redis either way.

    Only the component YAML differs between the two: the Python code is the same.
    """
    postgres: str | None = None
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        postgres = server.create_database(f"taskapi_{uuid.uuid4().hex[:8]}")
    running = Stack(
        tmp_path_factory.mktemp("taskapi-stack"), redis_server.address, dapr_configuration, postgres
    )
    try:
        yield running.start()
    finally:
        running.stop()


@pytest.fixture
def api(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.taskapi.url, timeout=15) as client:
        yield client


@pytest.fixture
async def aapi(stack: Stack) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=stack.taskapi.url, timeout=30)
