"""The Task API's Prometheus endpoint: requests by route and status, Dapr call latency.

One ``Metrics`` per app, on a registry of its own, made by main.create_app and handed to
what reports into it (no module-level collectors: two apps in one process, as in the unit
tests, never share or clash on a series). Routes are labelled by their template
(``/tasks/{task_id}``), never the raw path, so the series stay bounded. Dapr calls are timed
through DaprIO's observer (``Metrics.observe_dapr_call``, given to its constructor): dapr_io
stays the one module that talks to Dapr and needs no knowledge of metrics.
"""

from __future__ import annotations

import time

from fastapi import FastAPI, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        if registry is None:
            # What the default registry would have served: process CPU, memory, GC.
            for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
                self.registry.register(collector)
        self.requests = Counter(
            "taskapi_http_requests",
            "HTTP requests served, by method, route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.request_duration = Histogram(
            "taskapi_http_request_duration_seconds",
            "HTTP request duration, by method and route.",
            ["method", "route"],
            registry=self.registry,
        )
        self.dapr_calls = Histogram(
            "taskapi_dapr_call_duration_seconds",
            "Duration of calls to the Dapr sidecar, by operation and outcome (ok or error).",
            ["operation", "outcome"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )

    def observe_dapr_call(self, operation: str, outcome: str, seconds: float) -> None:
        """DaprIO's call observer."""
        self.dapr_calls.labels(operation, outcome).observe(seconds)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.request_duration.labels(method, route).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


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

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

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
                elapsed = time.perf_counter() - started
                self.metrics.observe_request(scope["method"], route, status, elapsed)


def install(app: FastAPI, metrics: Metrics) -> None:
    """Count every request into ``metrics`` and serve them on GET /metrics."""
    app.add_middleware(CountRequests, metrics=metrics)

    @app.get("/metrics", include_in_schema=False)
    async def serve() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
