"""Which child events need a full pass (triggers.py): changes of spec or of the operator's
metadata do, status churn and the echo of the operator's own write do not."""

from __future__ import annotations

import copy
from typing import Any

from taskapi_operator.triggers import SpecChanges


def _deployment(**meta: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "shop",
            "namespace": "ns",
            "uid": "u1",
            "generation": 1,
            "resourceVersion": "10",
            "labels": {"app.kubernetes.io/instance": "shop"},
            "annotations": {"taskapi.io/applied": "abc"},
            **meta,
        },
        "spec": {"replicas": 1},
        "status": {"readyReplicas": 0},
    }


def _with(body: dict[str, Any], **meta: Any) -> dict[str, Any]:
    out = copy.deepcopy(body)
    out["metadata"].update(meta)
    return out


def test_status_churn_of_a_child_with_a_generation_is_no_change() -> None:
    changes = SpecChanges()
    first = _deployment()
    # first sight: no full pass (the operator's own create, or the start-up listing)
    assert not changes.changed("deployments", first)
    ready = _with(first, resourceVersion="11")
    ready["status"]["readyReplicas"] = 1
    assert not changes.changed("deployments", ready)
    for edited in (
        _with(first, generation=2),  # someone edited the spec
        _with(first, labels={}),
        _with(first, annotations={"taskapi.io/applied": "other"}),
        _with(first, ownerReferences=[{"uid": "x", "controller": True}]),
        _with(first, uid="u2"),  # deleted and created again under the same name
        _with(first, deletionTimestamp="2026-01-01T00:00:00Z"),
    ):
        assert changes.changed("deployments", edited), edited["metadata"]
        assert changes.changed("deployments", first)  # and back: a change again


def test_the_echo_of_the_operators_write_is_no_change() -> None:
    changes = SpecChanges()
    written = _deployment(generation=3)
    changes.wrote("deployments", written)
    assert not changes.changed("deployments", written)
    service = {"metadata": {"name": "shop", "namespace": "ns", "resourceVersion": "7"}}
    changes.wrote("services", service)
    assert not changes.changed("services", service)  # the very version written
    # No generation: any other version may hide a spec edit.
    assert changes.changed("services", _with(service, resourceVersion="8"))


def test_deletion_is_a_change_and_forgets_the_child() -> None:
    changes = SpecChanges()
    body = _deployment()
    changes.changed("deployments", body)
    assert changes.changed("deployments", body, deleted=True)
    assert len(changes) == 0
    assert not changes.changed("deployments", body)  # seen anew: a first sight again


def test_the_echo_seen_before_the_write_returns_is_no_change_either() -> None:
    """The watch may deliver the operator's create before the apply's answer is recorded."""
    changes = SpecChanges()
    created = _deployment()
    assert not changes.changed("deployments", created)
    changes.wrote("deployments", created)
    assert not changes.changed("deployments", _with(created, resourceVersion="11"))
    assert changes.changed("deployments", _with(created, generation=2))
