"""The Argo CD health check for TaskApi, run in a real Lua runtime (lupa) as Argo CD would."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from lupa import LuaRuntime

from taskapi_operator import names

HEALTH_KEY = "resource.customizations.health.taskapi.io_TaskApi"
CM = Path(__file__).resolve().parents[3] / "deploy" / "argocd" / "argocd-cm-health.yaml"


def _health_script() -> str:
    script: str = yaml.safe_load(CM.read_text())["data"][HEALTH_KEY]
    return script


def _to_lua(lua: LuaRuntime, value: Any) -> Any:
    if isinstance(value, dict):
        return lua.table_from({k: _to_lua(lua, v) for k, v in value.items()})
    if isinstance(value, list):
        return lua.table_from([_to_lua(lua, v) for v in value])
    return value


def health(obj: dict[str, Any]) -> tuple[str, str]:
    lua = LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = _to_lua(lua, obj)
    result = lua.execute(_health_script())
    return str(result["status"]), str(result["message"])


def _taskapi(generation: int = 2, status: dict[str, Any] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "taskapi.io/v1alpha1",
        "kind": "TaskApi",
        "metadata": {"name": "tasks", "generation": generation},
        "spec": {"replicas": 2},
    }
    if status is not None:
        obj["status"] = status
    return obj


def _ready(status: str, reason: str, observed: int = 2) -> dict[str, Any]:
    return {
        "observedGeneration": observed,
        "conditions": [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
            {"type": "Ready", "status": status, "reason": reason, "message": "2/2 pods ready"},
        ],
    }


def test_missing_status_is_progressing_not_an_error() -> None:
    assert health(_taskapi()) == ("Progressing", "Waiting for the operator to report status")


def test_ready_and_current_is_healthy() -> None:
    status, message = health(_taskapi(status=_ready("True", "Ready")))
    assert status == "Healthy"
    assert message == "Ready: 2/2 pods ready"


def test_status_behind_the_spec_is_progressing_even_if_ready() -> None:
    status, message = health(_taskapi(generation=3, status=_ready("True", "Ready", observed=2)))
    assert status == "Progressing"
    assert "generation 3" in message


@pytest.mark.parametrize("reason", ["PodsNotReady", "SidecarNotReady", "NoPods"])
def test_pods_starting_is_progressing(reason: str) -> None:
    assert health(_taskapi(status=_ready("False", reason)))[0] == "Progressing"


@pytest.mark.parametrize(
    "reason",
    [
        "SidecarNotInjected",
        "ComponentNotFound",
        "SecretNotFound",
        "ApplyFailed",
        "SubscriptionNotRegistered",
    ],
)
def test_failure_reasons_are_degraded(reason: str) -> None:
    status, message = health(_taskapi(status=_ready("False", reason)))
    assert status == "Degraded"
    assert message.startswith(reason)


def test_paused_is_suspended() -> None:
    assert health(_taskapi(status=_ready("True", "Paused")))[0] == "Suspended"


def test_status_without_conditions_is_progressing() -> None:
    assert health(_taskapi(status={"observedGeneration": 2}))[0] == "Progressing"


def _lua_failure_table() -> set[str]:
    """The names in the script's ``local failures = { ... }`` table."""
    block = re.search(r"local failures = \{(.*?)\}", _health_script(), re.DOTALL)
    assert block, "no failures table in the health script"
    return set(re.findall(r"(\w+)\s*=\s*true", block.group(1)))


def test_lua_failures_are_reasons_the_operator_emits() -> None:
    listed = _lua_failure_table()
    assert listed <= names.READY_FALSE_REASONS, listed - names.READY_FALSE_REASONS
    assert listed == names.READY_FAILURE_REASONS


@pytest.mark.parametrize("reason", sorted(names.READY_FALSE_REASONS))
def test_every_operator_reason_is_classified_by_the_lua(reason: str) -> None:
    status, _ = health(_taskapi(status=_ready("False", reason)))
    if reason == names.REASON_PAUSED:
        expected = "Suspended"
    elif reason in names.READY_FAILURE_REASONS:
        expected = "Degraded"
    else:
        assert reason in names.READY_TRANSIENT_REASONS
        expected = "Progressing"
    assert status == expected


def test_no_sample_taskapi_is_named_like_an_application() -> None:
    """Children carry app.kubernetes.io/instance=<TaskApi name>; under Argo CD's label
    tracking a TaskApi named like an Application would hand it the operator's children."""
    argocd = CM.parent
    applications = {
        doc["metadata"]["name"]
        for path in argocd.glob("application-*.yaml")
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc.get("kind") == "Application"
    }
    taskapis = {
        doc["metadata"]["name"]
        for path in (argocd.parent / "samples").glob("*.yaml")
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc.get("kind") == "TaskApi"
    }
    assert applications
    assert taskapis
    assert not applications & taskapis
