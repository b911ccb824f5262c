"""The spec model: defaults, managed-xor-ref, and actionable parse errors."""

from __future__ import annotations

import pytest
from operator_fixtures import sample_body

from taskapi_operator.model import InvalidSpecError, TaskApi


def test_defaults_match_the_app_contract() -> None:
    body = sample_body()
    body["spec"] = {
        "image": "x",
        "stateStore": {"ref": {"name": "s"}},
        "pubsub": {"ref": {"name": "p"}},
    }
    taskapi = TaskApi.from_body(body)
    assert taskapi.app_id == "taskapi-sample"
    assert taskapi.spec.port == 8000
    assert taskapi.spec.pubsub.topic == "task-events"
    assert taskapi.spec.secret_store.managed is not None
    assert taskapi.spec.notifications.secret_name == "notification-api-key"


def test_both_managed_and_ref_is_rejected_with_the_field() -> None:
    body = sample_body()
    body["spec"]["stateStore"]["ref"] = {"name": "x"}
    with pytest.raises(InvalidSpecError, match=r"spec\.stateStore.*exactly one of managed, ref"):
        TaskApi.from_body(body)


def test_pause_annotation() -> None:
    assert TaskApi.from_body(sample_body(annotations={"taskapi.io/paused": "true"})).paused
    assert not TaskApi.from_body(sample_body()).paused


def test_integer_quantities_become_strings() -> None:
    body = sample_body()
    body["spec"]["resources"] = {"limits": {"cpu": 1}}
    assert TaskApi.from_body(body).spec.resources.limits == {"cpu": "1"}
