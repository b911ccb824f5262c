"""Which objects are this TaskApi's (pure): the rule before every write and every delete."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from taskapi_operator.names import Kind


def controller(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def controlled_by(obj: Mapping[str, Any], uid: str) -> bool:
    ref = controller(obj)
    return ref is not None and ref.get("uid") == uid


def conflict(kind: Kind, obj: Mapping[str, Any]) -> str:
    """What to tell the user about an object with a child's name that is not ours."""
    name = (obj.get("metadata") or {}).get("name", "")
    ref = controller(obj)
    owner = f"controlled by {ref.get('kind')}/{ref.get('name')}" if ref else "not controlled by it"
    return f"{kind.kind}/{name} exists and is {owner}"


def stale(
    kind: Kind,
    cached: Iterable[Mapping[str, Any]],
    uid: str,
    wanted: set[tuple[str, str]],
) -> list[tuple[str, str]]:
    """(name, uid) of cached objects of ``kind`` this TaskApi controls but no longer wants.

    Only objects whose controller is this TaskApi's uid qualify: a same-named or same-labelled
    object created by anyone else is never deleted.
    """
    out = []
    for obj in cached:
        meta = obj.get("metadata") or {}
        if meta.get("deletionTimestamp") or not controlled_by(obj, uid):
            continue
        if (kind.kind, meta.get("name", "")) not in wanted:
            out.append((meta["name"], meta["uid"]))
    return sorted(out)
