"""Whether a live child still holds what the operator applied (pure): the write-or-skip decision.

Two checks, so that a steady state writes nothing even beside other field managers:
- the ``taskapi.io/applied`` digest of the manifest: a new spec (also one that only drops a
  field, which a "live has it" check cannot see) changes it, so the child is re-applied;
- every field the manifest sets still has its value live, lists of objects compared by their
  merge key (env by name, ports by name or port...): an entry someone else added (an env var
  from a policy engine) is not a difference, an edited or removed one of ours is.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from kubernetes.utils import parse_quantity

from taskapi_operator import names

# Keys that identify an entry of a list of objects, tried in order (Kubernetes merge keys).
_MERGE_KEYS = ("name", "uid", "containerPort", "port", "mountPath", "devicePath")
_QUANTITY_PARENTS = frozenset({"requests", "limits"})
_QUANTITY = "<quantity>"  # marks a scalar found in a requests/limits map


def applied_digest(manifest: Mapping[str, Any]) -> str:
    rendered = json.dumps(manifest, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(rendered.encode()).hexdigest()[:16]


def stamped(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest with its own digest as an annotation: what is applied."""
    out = copy.deepcopy(dict(manifest))
    digest = applied_digest(manifest)
    out["metadata"].setdefault("annotations", {})[names.ANNOTATION_APPLIED] = digest
    return out


def _same_scalar(desired: Any, live: Any, parent: str | None) -> bool:
    if desired == live:
        return True
    if parent == _QUANTITY and isinstance(desired, str | int) and live is not None:
        # The apiserver canonicalises quantities ("1000m" comes back as "1").
        try:
            return bool(parse_quantity(desired) == parse_quantity(live))  # type: ignore[no-untyped-call]
        except ValueError:
            return False
    return False


def _merge_key(items: Sequence[Any]) -> str | None:
    if not items or not all(isinstance(i, Mapping) for i in items):
        return None
    for key in _MERGE_KEYS:
        if all(key in i for i in items):
            return key
    return None


def _matches_list(desired: Sequence[Any], live: Any, parent: str | None) -> bool:
    if not isinstance(live, list):
        return False
    key = _merge_key(desired)
    if key is None:  # scalars or unkeyed objects: the list is atomic
        return len(desired) == len(live) and all(
            matches(d, lv, parent) for d, lv in zip(desired, live, strict=True)
        )
    by_key = {i.get(key): i for i in live if isinstance(i, Mapping)}
    return all(matches(d, by_key.get(d[key]), parent) for d in desired)


def matches(desired: Any, live: Any, parent: str | None = None) -> bool:
    """True when every field we set has the same value live (others' additions are fine)."""
    if isinstance(desired, Mapping):
        if not isinstance(live, Mapping):
            return False
        quantities = parent in _QUANTITY_PARENTS
        return all(
            matches(v, live.get(k), _QUANTITY if quantities else k) for k, v in desired.items()
        )
    if isinstance(desired, list):
        return _matches_list(desired, live, parent)
    return _same_scalar(desired, live, parent)


def up_to_date(applied: Mapping[str, Any], live: Mapping[str, Any] | None) -> bool:
    """``applied`` is a stamped manifest; True when applying it again would change nothing."""
    return live is not None and matches(applied, live)
