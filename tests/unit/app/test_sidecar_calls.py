"""The bulk read both apps share (dapr_sidecar.calls.SidecarCalls.get_bulk), on a fake client:
what counts as found, and a key daprd could not read failing the whole read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from dapr_sidecar import SidecarCalls, SidecarConnection


class UnavailableError(Exception):
    pass


@dataclass
class Item:
    key: str
    data: bytes | str
    etag: str
    error: str = ""


class FakeClient:
    def __init__(self, *items: Item) -> None:
        self.items = list(items)
        self.asked: list[tuple[str, list[str], int]] = []

    async def get_bulk_state(self, store: str, keys: list[str], parallelism: int) -> Any:
        self.asked.append((store, keys, parallelism))
        return type("Resp", (), {"items": self.items})()


def _calls(client: FakeClient) -> SidecarCalls:
    sidecar = SidecarConnection(1)
    sidecar.client = client  # type: ignore[assignment]
    return SidecarCalls(sidecar, 1, unavailable=UnavailableError, conflict=UnavailableError)


async def test_found_keys_come_with_their_etag_and_missing_ones_are_left_out() -> None:
    client = FakeClient(Item("a", b"1", "7"), Item("b", "", ""), Item("c", "text", "2"))
    found = await _calls(client).get_bulk("store", ["a", "b", "c"], 3)
    assert found == {"a": (b"1", "7"), "c": (b"text", "2")}
    assert client.asked == [("store", ["a", "b", "c"], 3)]


async def test_a_key_daprd_could_not_read_fails_the_read() -> None:
    client = FakeClient(Item("a", b"1", "7"), Item("b", "", "", error="redis: connection refused"))
    with pytest.raises(UnavailableError, match="'b': redis: connection refused"):
        await _calls(client).get_bulk("store", ["a", "b"], 2)
