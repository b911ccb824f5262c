"""CRUD, validation and ETag behaviour of the Task API against real daprd + Redis."""

from __future__ import annotations

import uuid

import httpx
import pytest

pytestmark = pytest.mark.integration


def _create(api: httpx.Client, title: str = "write tests", **extra: object) -> httpx.Response:
    resp = api.post("/tasks", json={"title": title, **extra})
    assert resp.status_code == 201, resp.text
    return resp


def test_crud_round_trip(api: httpx.Client) -> None:
    created = _create(api, "buy milk", description="2 litres", priority=2)
    task = created.json()
    assert created.headers["Location"] == f"/tasks/{task['id']}"
    assert created.headers["ETag"]
    assert task["status"] == "pending"
    assert task["created_at"].endswith(("Z", "+00:00"))

    got = api.get(f"/tasks/{task['id']}")
    assert got.status_code == 200
    assert got.json() == task
    assert got.headers["ETag"] == created.headers["ETag"]

    patched = api.patch(f"/tasks/{task['id']}", json={"title": "buy oat milk", "priority": 5})
    assert patched.status_code == 200, patched.text
    assert patched.json()["title"] == "buy oat milk"
    assert patched.json()["description"] == "2 litres"
    assert patched.json()["revision"] == 2

    status = api.put(f"/tasks/{task['id']}/status", params={"status": "in_progress"})
    assert status.status_code == 200, status.text
    assert status.json()["status"] == "in_progress"

    listed = api.get("/tasks", params={"limit": 100}).json()
    assert task["id"] in [t["id"] for t in listed["items"]]

    assert api.delete(f"/tasks/{task['id']}").status_code == 204
    assert api.get(f"/tasks/{task['id']}").status_code == 404
    listed = api.get("/tasks", params={"limit": 100}).json()
    assert task["id"] not in [t["id"] for t in listed["items"]]


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/tasks/{}", {}),
        ("PATCH", "/tasks/{}", {"json": {"title": "x"}}),
        ("PUT", "/tasks/{}/status", {"params": {"status": "completed"}}),
        ("DELETE", "/tasks/{}", {}),
        ("GET", "/tasks/{}/activity", {}),
    ],
)
def test_unknown_id_is_404_and_malformed_id_422(
    api: httpx.Client, method: str, path: str, kwargs: dict[str, object]
) -> None:
    unknown = uuid.uuid4().hex
    resp = api.request(method, path.format(unknown), **kwargs)  # type: ignore[arg-type]
    assert resp.status_code == 404
    assert resp.headers["content-type"] == "application/problem+json"
    assert unknown in resp.json()["detail"]
    for malformed in ("nope", "A" * 32, "x" * 300):
        resp = api.request(method, path.format(malformed), **kwargs)  # type: ignore[arg-type]
        assert resp.status_code == 422, resp.text
        assert resp.headers["content-type"] == "application/problem+json"


def test_null_fields_are_rejected_and_the_task_stays_readable(api: httpx.Client) -> None:
    task = _create(api).json()
    for field in ("title", "description", "priority"):
        resp = api.patch(f"/tasks/{task['id']}", json={field: None})
        assert resp.status_code == 422, resp.text
        assert field in resp.json()["detail"]
    assert api.post("/tasks", json={"title": None}).status_code == 422
    for method, path, kwargs in (
        ("GET", f"/tasks/{task['id']}", {}),
        ("PUT", f"/tasks/{task['id']}/status", {"params": {"status": "completed"}}),
        ("DELETE", f"/tasks/{task['id']}", {}),
    ):
        assert api.request(method, path, **kwargs).status_code < 300  # type: ignore[arg-type]


@pytest.mark.parametrize("cursor", ["x", "v1.9.0.0", "v1.0.0.9999", "-1", "v1." + "9" * 40])
def test_malformed_cursor_is_422(api: httpx.Client, cursor: str) -> None:
    resp = api.get("/tasks", params={"cursor": cursor})
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"] == "application/problem+json"


def test_cursor_past_the_end_is_an_empty_last_page(api: httpx.Client) -> None:
    page = api.get("/tasks", params={"cursor": "v1.7.99999999.999"}).json()
    assert page["items"] == []
    assert page["next_cursor"] is None


def test_malformed_if_match_is_422(api: httpx.Client) -> None:
    task = _create(api).json()
    for value in ("null", "", "abc", '"1", "2"'):
        resp = api.delete(f"/tasks/{task['id']}", headers={"If-Match": value})
        assert resp.status_code == 422, (value, resp.text)


def test_method_not_allowed_names_every_allowed_method(api: httpx.Client) -> None:
    resp = api.post(f"/tasks/{uuid.uuid4().hex}")
    assert resp.status_code == 405
    assert set(resp.headers["Allow"].split(", ")) == {"GET", "PATCH", "DELETE"}
    assert resp.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "ok", "priority": 9}, "priority"),
        ({"title": "ok", "status": "completed"}, "status"),
        ({}, "title"),
    ],
)
def test_invalid_body_is_422_with_reason(
    api: httpx.Client, body: dict[str, object], reason: str
) -> None:
    resp = api.post("/tasks", json=body)
    assert resp.status_code == 422
    assert reason in resp.json()["detail"]


def test_invalid_status_and_empty_patch_are_422(api: httpx.Client) -> None:
    task = _create(api).json()
    resp = api.put(f"/tasks/{task['id']}/status", params={"status": "done"})
    assert resp.status_code == 422
    assert "status" in resp.json()["detail"]
    resp = api.patch(f"/tasks/{task['id']}", json={})
    assert resp.status_code == 422
    assert resp.json()["detail"]


def test_stale_if_match_is_412_and_fresh_one_wins(api: httpx.Client) -> None:
    created = _create(api)
    task_id, first_etag = created.json()["id"], created.headers["ETag"]
    update = api.patch(f"/tasks/{task_id}", json={"priority": 4}, headers={"If-Match": first_etag})
    assert update.status_code == 200, update.text
    second_etag = update.headers["ETag"]
    assert second_etag != first_etag

    stale = api.patch(f"/tasks/{task_id}", json={"priority": 1}, headers={"If-Match": first_etag})
    assert stale.status_code == 412
    assert "ETag" in stale.json()["detail"]
    stale = api.put(
        f"/tasks/{task_id}/status", params={"status": "completed"}, headers={"If-Match": first_etag}
    )
    assert stale.status_code == 412
    assert api.delete(f"/tasks/{task_id}", headers={"If-Match": first_etag}).status_code == 412
    assert api.get(f"/tasks/{task_id}").json()["priority"] == 4

    assert api.delete(f"/tasks/{task_id}", headers={"If-Match": second_etag}).status_code == 204
