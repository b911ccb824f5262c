"""The write-or-skip decision: others' additions are no difference, our own edits and a changed
spec are."""

from __future__ import annotations

import copy
from typing import Any

from operator_fixtures import sample_body

from taskapi_operator import names
from taskapi_operator.builders import build_children
from taskapi_operator.compare import matches, stamped, up_to_date
from taskapi_operator.model import TaskApi


def _deployment(**spec: Any) -> dict[str, Any]:
    body = sample_body()
    body["spec"].update(spec)
    [found] = [c for c in build_children(TaskApi.from_body(body)) if c["kind"] == "Deployment"]
    return stamped(found)


def _container(obj: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = obj["spec"]["template"]["spec"]["containers"][0]
    return container


def _live(applied: dict[str, Any]) -> dict[str, Any]:
    """What the apiserver returns: our fields plus defaults and server-set metadata."""
    live = copy.deepcopy(applied)
    live["metadata"].update({"uid": "u", "resourceVersion": "7", "generation": 1})
    live["spec"]["revisionHistoryLimit"] = 10
    _container(live)["terminationMessagePath"] = "/dev/termination-log"
    return live


def test_a_foreign_env_var_is_not_a_difference() -> None:
    applied = _deployment()
    live = _live(applied)
    _container(live)["env"].insert(0, {"name": "INJECTED_BY_POLICY", "value": "1"})
    assert up_to_date(applied, live)


def test_an_edited_or_removed_env_var_of_ours_is_a_difference() -> None:
    applied = _deployment()
    edited = _live(applied)
    _container(edited)["env"][0]["value"] = "hand-edited"
    assert not up_to_date(applied, edited)
    removed = _live(applied)
    del _container(removed)["env"][0]
    assert not up_to_date(applied, removed)


def test_a_spec_change_that_only_drops_a_field_changes_the_digest() -> None:
    """Live still holds everything the new manifest sets, yet it must be applied so that the
    server removes the dropped field: the digest annotation tells."""
    with_limits = _deployment()
    live = _live(with_limits)
    without = _deployment(resources={})
    assert matches({k: v for k, v in without.items() if k != "metadata"}, live)
    assert not up_to_date(without, live)
    digest = without["metadata"]["annotations"][names.ANNOTATION_APPLIED]
    assert digest != with_limits["metadata"]["annotations"][names.ANNOTATION_APPLIED]


def test_absent_is_not_up_to_date_and_stamping_is_stable() -> None:
    assert not up_to_date(_deployment(), None)
    assert _deployment() == _deployment()


def test_unkeyed_lists_are_atomic_and_quantities_canonical() -> None:
    assert not matches({"scopes": ["a"]}, {"scopes": ["a", "b"]})
    assert matches({"r": {"limits": {"cpu": "1000m"}}}, {"r": {"limits": {"cpu": "1"}}})
    assert matches({"ports": [{"port": 80}]}, {"ports": [{"port": 81}, {"port": 80}]})
    assert not matches({"ports": [{"port": 80, "protocol": "TCP"}]}, {"ports": [{"port": 80}]})
