"""The sidecar metadata probe: what counts as registered, and failures as data, not exceptions."""

from __future__ import annotations

import socket

from taskapi_operator.probe import Prober, has_subscription, metadata_url
from taskapi_operator.settings import OperatorSettings
from taskapi_operator.status import PodProbe

METADATA = {
    "id": "orders",
    "subscriptions": [
        {"pubsubname": "orders-pubsub", "topic": "task-events", "rules": [], "type": "PROGRAMMATIC"}
    ],
}


def test_registered_only_for_the_same_pubsub_and_topic() -> None:
    assert has_subscription(METADATA, "orders-pubsub", "task-events")
    assert not has_subscription(METADATA, "other-pubsub", "task-events")
    assert not has_subscription(METADATA, "orders-pubsub", "other")
    assert not has_subscription({"id": "x"}, "orders-pubsub", "task-events")


def test_url_from_settings() -> None:
    settings = OperatorSettings(probe_port=3501, probe_scheme="http")
    assert metadata_url(settings, "127.1.0.7") == "http://127.1.0.7:3501/v1.0/metadata"
    assert metadata_url(settings, "::1") == "http://[::1]:3501/v1.0/metadata"


async def test_unreachable_sidecar_is_an_error_result() -> None:
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = OperatorSettings(probe_port=port, probe_timeout_seconds=1)
    seen: list[list[PodProbe]] = []
    prober = Prober(settings, on_results=seen.append)
    try:
        [result] = await prober.probe([("pod-a", "127.0.0.1")], "p", "t")
    finally:
        await prober.close()
    assert seen == [[result]]
    assert result.pod == "pod-a"
    assert not result.registered
    assert result.error
    assert f"127.0.0.1:{port}" in result.error
