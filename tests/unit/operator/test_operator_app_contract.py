"""The operator ⇄ app environment contract, bound from both sides: every TASKAPI_* variable
the Deployment builder sets is a field of the app's Settings and arrives there with the
value the operator meant, and every Dapr name the app reads is one the operator sets."""

from __future__ import annotations

import pytest
from operator_fixtures import refs_body, sample_body

from taskapi.settings import Settings
from taskapi_operator import names
from taskapi_operator.builders import build_children
from taskapi_operator.model import TaskApi

# The app's settings that name Dapr things or its port: what the operator must decide.
CONTRACT_FIELDS = {
    "state_store",
    "pubsub",
    "topic",
    "dead_letter_topic",
    "secret_store",
    "notification_app_id",
    "notification_method",
    "notification_secret",
    "notification_secret_key",
    "port",
}


def _operator_env(body: dict[str, object]) -> dict[str, str]:
    children = build_children(TaskApi.from_body(body))
    deployment = next(c for c in children if c["kind"] == "Deployment")
    [app] = [
        c
        for c in deployment["spec"]["template"]["spec"]["containers"]
        if c["name"] == names.APP_CONTAINER
    ]
    return {e["name"]: e["value"] for e in app["env"] if e["name"] in names.OPERATOR_ENV}


def test_every_operator_variable_is_an_app_setting_and_every_dapr_name_is_set() -> None:
    prefix = Settings.model_config.get("env_prefix")
    assert prefix == "TASKAPI_"
    fields = {v.removeprefix(prefix).lower() for v in names.OPERATOR_ENV}
    assert fields <= set(Settings.model_fields), fields - set(Settings.model_fields)
    assert fields == CONTRACT_FIELDS
    assert set(_operator_env(sample_body())) == set(names.OPERATOR_ENV)


@pytest.mark.parametrize("body", [sample_body(), refs_body()], ids=["managed", "references"])
def test_the_app_reads_what_the_operator_meant(
    body: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _operator_env(body)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    for name, value in env.items():
        field = name.removeprefix("TASKAPI_").lower()
        assert str(getattr(settings, field)) == value, name
    taskapi = TaskApi.from_body(body)
    assert settings.pubsub == taskapi.component_names.pubsub
    assert settings.state_store == taskapi.component_names.statestore
