"""Ownership before writes and deletes, and the cache lookups they rely on."""

from __future__ import annotations

from typing import Any

from taskapi_operator import cache, names
from taskapi_operator.cache import Caches
from taskapi_operator.ownership import conflict, controlled_by, stale

UID = "uid-1"
DEPLOYMENT = names.kind_of("apps/v1", "Deployment")
COMPONENT = names.kind_of("dapr.io/v1alpha1", "Component")


def obj(name: str, owner_uid: str | None = UID, **meta: Any) -> dict[str, Any]:
    refs = (
        [
            {
                "apiVersion": "taskapi.io/v1alpha1",
                "kind": "TaskApi",
                "name": "shop",
                "uid": owner_uid,
                "controller": True,
            }
        ]
        if owner_uid
        else []
    )
    labels = names.child_labels("shop", names.COMPONENT_STATESTORE)
    return {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "uid": f"u-{name}",
            "labels": labels,
            "ownerReferences": refs,
            **meta,
        }
    }


def test_only_a_controller_reference_to_this_uid_makes_it_ours() -> None:
    assert controlled_by(obj("a"), UID)
    assert not controlled_by(obj("a", owner_uid="other"), UID)
    assert not controlled_by(obj("a", owner_uid=None), UID)
    not_controller = obj("a")
    not_controller["metadata"]["ownerReferences"][0]["controller"] = False
    assert not controlled_by(not_controller, UID)


def test_conflict_names_kind_name_and_controller() -> None:
    assert conflict(DEPLOYMENT, obj("web", owner_uid=None)) == (
        "Deployment/web exists and is not controlled by it"
    )
    assert conflict(DEPLOYMENT, obj("web", owner_uid="x")) == (
        "Deployment/web exists and is controlled by TaskApi/shop"
    )


def test_stale_children_are_ours_and_unwanted_only() -> None:
    cached = [
        obj("shop-statestore"),
        obj("shop-pubsub"),
        obj("shop-lookalike", owner_uid=None),  # labelled like ours, not ours
        obj("shop-other", owner_uid="someone"),
        obj("shop-going", deletionTimestamp="2026-01-01T00:00:00Z"),
    ]
    wanted = {("Component", "shop-statestore")}
    assert stale(COMPONENT, cached, UID, wanted) == [("shop-pubsub", "u-shop-pubsub")]


def test_cache_lookups_by_instance_and_by_name() -> None:
    ours = obj("shop")
    foreign = {"metadata": {"name": "shared", "namespace": "ns", "managedFields": [{}]}}
    by_instance = cache.by_instance(ours)
    assert by_instance is not None
    assert cache.by_instance(foreign) is None  # no label of ours: not indexed by instance
    caches = Caches(
        {
            cache.index_id(DEPLOYMENT): {k: [v] for k, v in by_instance.items()},
            cache.COMPONENTS_BY_NAME: {k: [v] for k, v in cache.by_name(foreign).items()},
        }
    )
    assert caches.child(DEPLOYMENT, "ns", "shop", "shop") == ours
    assert caches.child(DEPLOYMENT, "ns", "shop", "other") is None
    assert caches.children(COMPONENT, "ns", "shop") == []  # no index for it: empty
    assert caches.component("ns", "shared") == {
        "metadata": {"name": "shared", "namespace": "ns"},
        "spec": {"metadata": []},
    }


def test_every_kind_of_child_is_registered_once() -> None:
    from operator_fixtures import sample_body

    from taskapi_operator.builders import build_children
    from taskapi_operator.model import TaskApi

    built = {(c["apiVersion"], c["kind"]) for c in build_children(TaskApi.from_body(sample_body()))}
    registered = [(k.api_version, k.kind) for k in names.CHILD_KINDS]
    assert len(registered) == len(set(registered))
    assert built <= set(registered)
