"""Which child events need a full pass (pure): a change of what the operator applies, or
only the echo of the operator's own write or a status change (a Deployment's pods becoming
ready), which need a status pass.

Without this, each child created by a TaskApi's first pass, and every Deployment status
update of its rollout, queued another full pass behind the full passes of all TaskApis not
yet applied: at 1000 TaskApis created at once, Ready came only once every Deployment
existed. A status pass has a lane of its own (workqueue.py) and does not wait behind them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# What a change the operator may need to undo touches: the spec side bumps generation, the
# metadata the operator sets does not; a new uid is a new object under the same name.
_APPLIED_METADATA = ("uid", "labels", "annotations", "ownerReferences", "deletionTimestamp")


def fingerprint(body: Mapping[str, Any]) -> int:
    """Equal for two versions of an object that differ only in status. An object without a
    generation (ServiceAccount, Service...) would hide a spec edit: its resourceVersion is
    used, so that only the very version the operator wrote is "unchanged"."""
    meta = body.get("metadata") or {}
    generation = meta.get("generation")
    if generation is None:
        parts: list[Any] = ["rv", meta.get("resourceVersion")]
    else:
        parts = [generation, *(meta.get(k) for k in _APPLIED_METADATA)]
    return hash(json.dumps(parts, sort_keys=True))


def _key(plural: str, body: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = body.get("metadata") or {}
    return (plural, meta.get("namespace", ""), meta.get("name", ""))


class SpecChanges:
    """The last fingerprint of each child, seen in a watch event or written by the operator."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str, str], int] = {}  # (plural, namespace, name)

    def wrote(self, plural: str, body: Mapping[str, Any]) -> None:
        """The operator applied ``body``: its echo in the watch is no change."""
        self._seen[_key(plural, body)] = fingerprint(body)

    def changed(self, plural: str, body: Mapping[str, Any], *, deleted: bool = False) -> bool:
        """True when this event may need a full pass: a deletion, or a change of spec or of
        the operator's metadata since the last event or write.

        A first sight needs none: a child the operator creates is often seen in its watch
        before the apply's answer reaches ``wrote`` (at 1000 TaskApis created at once, each
        of their 8 children queued another full pass behind the first passes of TaskApis
        not applied yet), and at start-up the initial listing comes before every TaskApi's
        full pass anyway. A child that is not the operator's echo is compared at the next
        resync at the latest."""
        key = _key(plural, body)
        if deleted:
            self._seen.pop(key, None)
            return True
        new = fingerprint(body)
        old = self._seen.get(key)
        self._seen[key] = new
        return old is not None and old != new

    def __len__(self) -> int:
        return len(self._seen)
