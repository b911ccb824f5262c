"""The Task API's OpenAPI document is its contract: pinned in a golden file
(UPDATE_GOLDEN=1 rewrites it), and checked for what clients and schemathesis rely on."""

from __future__ import annotations

import json
from typing import Any

from goldens import Golden

from taskapi.main import create_app

PROBLEM = "application/problem+json"


def _spec() -> dict[str, Any]:
    spec: dict[str, Any] = create_app().openapi()
    return spec


def test_openapi_matches_golden(golden: Golden) -> None:
    golden("taskapi-openapi.json", json.dumps(_spec(), indent=2, sort_keys=True) + "\n")


def test_every_failure_is_a_documented_problem() -> None:
    operations = _spec()["paths"]
    expected = {
        ("/tasks", "post"): {"400", "409", "422", "503"},
        ("/tasks", "get"): {"422", "503"},
        ("/tasks/{task_id}", "get"): {"404", "422", "503"},
        ("/tasks/{task_id}", "patch"): {"400", "404", "409", "412", "422", "428", "503"},
        ("/tasks/{task_id}/status", "put"): {"404", "409", "412", "422", "428", "503"},
        ("/tasks/{task_id}", "delete"): {"404", "409", "412", "422", "428", "503"},
    }
    for (path, method), codes in expected.items():
        responses = operations[path][method]["responses"]
        failures = {c for c in responses if c.startswith(("4", "5"))}
        assert failures == codes, (path, method)
        for code in codes:
            assert list(responses[code]["content"]) == [PROBLEM], (path, method, code)
        assert "Retry-After" in responses["503"]["headers"]


def test_created_task_links_to_the_operations_on_it() -> None:
    created = _spec()["paths"]["/tasks"]["post"]["responses"]["201"]
    assert set(created["headers"]) == {"ETag", "Location"}
    targets = {link["operationId"] for link in created["links"].values()}
    assert targets == {"get_task", "update_task", "set_task_status", "delete_task"}
    assert all(
        link["parameters"] == {"task_id": "$response.body#/id"}
        for link in created["links"].values()
    )
