"""The Task API's Prometheus endpoint: requests by route and status, Dapr call latency.

Installed by one call in main.create_app. Routes are labelled by their template
(``/tasks/{task_id}``), never the raw path, so the series stay bounded. Dapr calls are timed
through DaprIO's observer (``observe_dapr_call``, given to its constructor): dapr_io stays the
one module that talks to Dapr and needs no knowledge of metrics.
"""

from __future__ import annotations

import time

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter(
    "taskapi_http_requests",
    "HTTP requests served, by method, route and status.",
    ["method", "route", "status"],
)
REQUEST_DURATION = Histogram(
    "taskapi_http_request_duration_seconds",
    "HTTP request duration, by method and route.",
    ["method", "route"],
)
DAPR_CALLS = Histogram(
    "taskapi_dapr_call_duration_seconds",
    "Duration of calls to the Dapr sidecar, by operation and outcome (ok or error).",
    ["operation", "outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def observe_dapr_call(operation: str, outcome: str, seconds: float) -> None:
    """DaprIO's call observer."""
    DAPR_CALLS.labels(operation, outcome).observe(seconds)


def route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "<unmatched>"


class CountRequests:
    """Counts and times every HTTP request by route template and status.

    Plain ASGI rather than ``@app.middleware("http")``: Starlette's BaseHTTPMiddleware runs
    each request in an extra task with memory streams, a cost paid on every request and
    every event delivery. The router records the matched route in the (shared) scope.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception escaping the app is answered 500 by the server

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = route_of(scope)
            if route != "/metrics":
                method = scope["method"]
                REQUESTS.labels(method, route, str(status)).inc()
                REQUEST_DURATION.labels(method, route).observe(time.perf_counter() - started)


def install(app: FastAPI) -> None:
    """Count every request and serve GET /metrics."""
    app.add_middleware(CountRequests)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
