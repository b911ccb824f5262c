"""Fixtures for the Task API integration tests: a running two-app stack per test module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from taskapi_stack import Stack

from harness.redis import RedisServer


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer, dapr_configuration: Path
) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("taskapi-stack"), redis_server.address,
                    dapr_configuration)
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
