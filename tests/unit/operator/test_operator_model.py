"""The spec model: defaults, managed-xor-ref, and actionable parse errors."""

from __future__ import annotations

import pytest
from operator_fixtures import sample_body, served

from taskapi_operator.model import InvalidSpecError, TaskApi


def test_crd_defaults_match_the_app_contract() -> None:
    body = sample_body()
    body["spec"] = {
        "image": "x",
        "stateStore": {"ref": {"name": "s"}},
        "pubsub": {"ref": {"name": "p"}},
    }
    taskapi = TaskApi.from_body(served(body))
    assert taskapi.app_id == "taskapi-sample"
    assert taskapi.spec.port == 8000
    assert taskapi.spec.pubsub.topic == "task-events"
    assert taskapi.spec.secret_store.managed is not None
    assert taskapi.spec.notifications.secret_name == "notification-api-key"
    assert taskapi.spec.pod.termination_grace_period_seconds == 30
    assert taskapi.spec.sidecar.app_health_check.path == "/health"


def test_a_body_without_the_crd_defaults_is_rejected_not_guessed() -> None:
    """The model repeats no CRD default: an object the apiserver did not default is invalid."""
    body = sample_body()
    del body["spec"]["pod"]
    with pytest.raises(InvalidSpecError, match=r"spec\.pod: Field required"):
        TaskApi.from_body(body)


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
