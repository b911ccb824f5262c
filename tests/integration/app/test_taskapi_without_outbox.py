"""A state store Component without the outbox metadata (a referenced store, say): the
app cannot commit changes with events there (daprd stores an `outbox.projection` operation
as a plain value, and Redis refuses its JSON content type), but it fails cleanly: a 503
problem that names the missing metadata, no 500, no task that reads back broken, a listing
that still works."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.redis import RedisServer
from harness.taskapi_stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bare(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer, dapr_configuration: Path
) -> Iterator[httpx.Client]:
    stack = Stack(
        tmp_path_factory.mktemp("no-outbox"), redis_server.address, dapr_configuration, outbox=False
    )
    try:
        stack.start()
        with httpx.Client(base_url=stack.taskapi.url, timeout=60) as api:
            yield api
    finally:
        stack.stop()


def test_changes_fail_cleanly_and_nothing_reads_back_broken(bare: httpx.Client) -> None:
    answers = [bare.post("/tasks", json={"title": f"no outbox {i}"}) for i in range(3)]
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert "outboxPublishPubsub" in answer.json()["detail"]
    listed = bare.get("/tasks", params={"limit": 100})
    assert listed.status_code == 200, listed.text
    for task in listed.json()["items"]:
        assert bare.get(f"/tasks/{task['id']}").status_code == 200
