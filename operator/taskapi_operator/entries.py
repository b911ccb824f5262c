"""Everything the operator holds about one TaskApi, in one Entry: forgetting it is one deletion.

resourceVersions are opaque (API conventions): they are compared for equality only, never
ordered. What the operator wrote is preferred to a watched copy only while that copy is one
of the versions the write replaced; any other version is newer (a watch delivers an object's
versions in order) or someone else's, and wins.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from taskapi_operator.cache import slim

Key = tuple[str, str]  # (namespace, name)
# Metadata whose change needs a full pass; anything else (status, resourceVersion, managed
# fields) is the echo of a status write or noise.
_SPEC_METADATA = ("generation", "labels", "annotations", "deletionTimestamp", "uid")
# Versions of one object the operator replaced by its writes before their echo came back.
_REPLACED_KEPT = 8


def key_of(body: Mapping[str, Any]) -> Key:
    meta = body["metadata"]
    return (meta["namespace"], meta["name"])


def version(body: Mapping[str, Any] | None) -> str | None:
    rv = ((body or {}).get("metadata") or {}).get("resourceVersion")
    return None if rv is None else str(rv)


def needs_full_pass(new: Mapping[str, Any], old: Mapping[str, Any] | None) -> bool:
    """False for the echo of the operator's own status write: same spec and metadata."""
    if old is None:
        return True
    new_meta, old_meta = new.get("metadata") or {}, old.get("metadata") or {}
    return any(new_meta.get(k) != old_meta.get(k) for k in _SPEC_METADATA) or new.get(
        "spec"
    ) != old.get("spec")


@dataclass
class Written:
    """A child as the operator's last apply returned it, and the versions that apply replaced."""

    body: Mapping[str, Any]
    replaced: frozenset[str]


@dataclass
class Debounce:
    """The status publisher's memory of one TaskApi (publish.py)."""

    probe_state: str = ""  # the last probe finding and how many passes in a row saw it
    probe_streak: int = 0
    losing_since: float | None = None  # monotonic time Ready was first seen lost
    written_at: float | None = None  # monotonic time of the last status write
    stuck: bool = False  # the last status written named a stuck container


@dataclass
class Entry:
    body: Mapping[str, Any]  # the newest TaskApi known: watched, or a status write's answer
    due: float  # monotonic time of the next resync
    failures: int = 0  # consecutive failed passes: the retry backoff
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one pass at a time
    replaced: deque[str] = field(default_factory=lambda: deque(maxlen=_REPLACED_KEPT))
    written: dict[tuple[str, str], Written] = field(default_factory=dict)  # (plural, name)
    debounce: Debounce = field(default_factory=Debounce)
    probed_at: float | None = None  # wall time (epoch s) of the last probe with answers

    def wrote_status(self, answer: Mapping[str, Any]) -> None:
        """The status write's answer is newer than anything the watch has delivered yet."""
        old = version(self.body)
        if old is not None:
            self.replaced.append(old)
        self.body = slim(answer)

    def wrote_child(
        self, plural: str, answer: Mapping[str, Any], seen: Iterable[Mapping[str, Any] | None]
    ) -> None:
        """An apply's answer replaces the versions ``seen`` (cached or read) and any earlier
        write of the same child whose echo has not come back yet."""
        key = (plural, str(answer["metadata"]["name"]))
        replaced = {v for v in (version(s) for s in seen) if v is not None}
        before = self.written.get(key)
        if before is not None:
            replaced |= before.replaced | {v for v in [version(before.body)] if v is not None}
        self.written[key] = Written(slim(answer), frozenset(replaced))

    def freshest(
        self, plural: str, name: str, cached: Mapping[str, Any] | None
    ) -> Mapping[str, Any] | None:
        """The cached child, or what the operator last wrote while the cache is behind it."""
        key = (plural, name)
        if cached is None:  # deleted, or not seen yet: the GET on a cache miss will tell
            self.written.pop(key, None)
            return None
        written = self.written.get(key)
        if written is not None and version(cached) in written.replaced:
            return written.body
        self.written.pop(key, None)  # the cache has caught up with the write (or passed it)
        return cached

    def seen_child(self, plural: str, body: Mapping[str, Any]) -> None:
        """A watch event of a child: once it is not one of the versions a write replaced, the
        cache holds the write or newer, and the write's copy is dropped (at 1000 TaskApis the
        copies of 8 children each, kept until the next full pass, were ~50 MiB)."""
        key = (plural, str((body.get("metadata") or {}).get("name", "")))
        written = self.written.get(key)
        if written is not None and version(body) not in written.replaced:
            del self.written[key]

    def observed(
        self, plural: str, name: str, cached: Mapping[str, Any] | None
    ) -> Mapping[str, Any] | None:
        """What status reports of a child: the cached one, or the operator's own write while
        the cache is behind it or has not seen it yet (a new TaskApi's first status then
        shows the Deployment just created, not "not found" and a second write a moment
        later). Unlike ``freshest`` it forgets nothing: that is the applier's business."""
        written = self.written.get((plural, name))
        if written is None:
            return cached
        if cached is None or version(cached) in written.replaced:
            return written.body
        return cached


class Entries:
    """The TaskApis the watch has delivered, by key; a new one's first resync from ``first``."""

    def __init__(self, first_turn: Callable[[], float]) -> None:
        self._first_turn = first_turn
        self._entries: dict[Key, Entry] = {}

    def remember(self, body: Mapping[str, Any]) -> tuple[Key, bool]:
        """Store a watched body; True when it needs a full pass (not a status echo)."""
        key = key_of(body)
        entry = self._entries.get(key)
        if entry is None:
            # 1000 TaskApis: their managedFields add up
            self._entries[key] = Entry(slim(body), due=self._first_turn())
            return key, True
        if version(body) in entry.replaced:
            return key, False  # the echo of a status write whose answer is already held
        old = entry.body
        entry.body = slim(body)
        entry.replaced.clear()  # the watch has caught up: what it brings next is newer
        return key, needs_full_pass(body, old)

    def forget(self, key: Key) -> None:
        self._entries.pop(key, None)

    def get(self, key: Key) -> Entry | None:
        return self._entries.get(key)

    def items(self) -> list[tuple[Key, Entry]]:
        return list(self._entries.items())

    def known(self) -> list[Key]:
        return list(self._entries)

    def bodies(self) -> list[Mapping[str, Any]]:
        """The cached TaskApis (metrics count them by Ready reason)."""
        return [e.body for e in self._entries.values()]

    def probe_times(self) -> list[float | None]:
        """When each TaskApi's sidecars were last probed (the probe-age gauge)."""
        return [e.probed_at for e in self._entries.values()]

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries
