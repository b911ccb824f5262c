"""The Task API's /metrics on the real stack (daprd + Redis): requests by route template and
status, and the latency of its calls to the sidecar, move with traffic."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.integration


def scrape(api: httpx.Client) -> dict[str, float]:
    resp = api.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    samples = {}
    for line in resp.text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def test_requests_and_dapr_calls_are_counted(api: httpx.Client) -> None:
    created_key = 'taskapi_http_requests_total{method="POST",route="/tasks",status="201"}'
    missing_key = 'taskapi_http_requests_total{method="GET",route="/tasks/{task_id}",status="404"}'
    before = scrape(api)
    created = api.post("/tasks", json={"title": "count me"})
    assert created.status_code == 201, created.text
    assert api.get("/tasks/" + "0" * 32).status_code == 404
    after = scrape(api)
    assert after[created_key] == before.get(created_key, 0) + 1
    assert after[missing_key] == before.get(missing_key, 0) + 1
    # the raw path never becomes a label: one series per route template
    assert not [k for k in after if "0" * 32 in k]
    dapr_calls = {
        k: v
        for k, v in after.items()
        if k.startswith("taskapi_dapr_call_duration_seconds_count") and 'outcome="ok"' in k
    }
    assert dapr_calls, sorted(after)
    assert sum(dapr_calls.values()) > sum(v for k, v in before.items() if k in dapr_calls)
