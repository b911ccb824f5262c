"""daprd (self-hosted) beside a tiny app: state in real Redis, subscription in metadata."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.dapr import Daprd
from harness.redis import RedisServer
from harness.subscriber import SubscribingApp

pytestmark = pytest.mark.integration


@pytest.fixture
def tiny_app() -> Iterator[int]:
    with SubscribingApp("pubsub", "smoke", route="/smoke") as app:
        yield app.port


def _components(directory: Path, redis: RedisServer) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, kind in (("statestore", "state.redis"), ("pubsub", "pubsub.redis")):
        doc = {
            "apiVersion": "dapr.io/v1alpha1",
            "kind": "Component",
            "metadata": {"name": name},
            "spec": {
                "type": kind,
                "version": "v1",
                "metadata": [
                    {"name": "redisHost", "value": redis.address},
                    {"name": "redisPassword", "value": ""},
                ],
            },
        }
        (directory / f"{name}.yaml").write_text(yaml.safe_dump(doc))
    return directory


def _call(method: str, url: str, body: Any = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(  # noqa: S310 - loopback
        url,
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback
        return resp.status, resp.read()


def test_daprd_state_in_real_redis_and_subscription_in_metadata(
    tmp_path: Path, redis_server: RedisServer, dapr_configuration: Path, tiny_app: int
) -> None:
    resources = _components(tmp_path / "resources", redis_server)
    with Daprd("smoke-app", tiny_app, resources, tmp_path, config=dapr_configuration) as daprd:
        daprd.wait_healthy()
        status, _ = _call(
            "POST", f"{daprd.http_url}/v1.0/state/statestore", [{"key": "k1", "value": {"n": 1}}]
        )
        assert status == 204
        status, body = _call("GET", f"{daprd.http_url}/v1.0/state/statestore/k1")
        assert json.loads(body) == {"n": 1}
        # the value really is in Redis, under Dapr's "<app-id>||<key>" layout
        assert b'{"n":1}' in redis_server.command("HGET", "smoke-app||k1", "data")

        def subscribed() -> bool:
            subs = daprd.metadata().get("subscriptions") or []
            return any(s["pubsubname"] == "pubsub" and s["topic"] == "smoke" for s in subs)

        daprd._proc.wait_until(subscribed, 30, "reporting the subscription")  # type: ignore[union-attr]
        meta = daprd.metadata()
        assert meta["id"] == "smoke-app"
        assert {c["name"] for c in meta["components"]} >= {"statestore", "pubsub"}
