"""The Task API application factory: one DaprIO (one Dapr client) per process, via lifespan."""

import contextlib
import gc
from collections.abc import AsyncIterator

from fastapi import FastAPI

from dapr_sidecar import connected_in_background
from taskapi import health, metrics, problems, routes, subscriber
from taskapi.dapr_io import DaprIO
from taskapi.service import TaskService
from taskapi.settings import Settings, get_settings
from taskapi.store import TaskStore


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        io = DaprIO(settings, observe=metrics.observe_dapr_call)
        store = TaskStore(io, settings)
        app.state.settings = settings
        app.state.io = io
        app.state.service = TaskService(store, settings)
        app.state.processor = subscriber.EventProcessor(io, store, settings)
        # Everything made so far (modules, routes, the app's models) lives as long as the
        # process: out of the collector's sight, a full collection no longer walks it, which
        # showed as event-loop pauses in the slowest requests.
        gc.freeze()
        async with connected_in_background(io.sidecar):
            yield

    app = FastAPI(title="Task API", version="2", lifespan=lifespan)
    problems.install(app)
    metrics.install(app)  # GET /metrics (requests by route and status, Dapr call latency)
    app.include_router(health.router)
    app.include_router(routes.router)
    subscriber.subscribe(app, settings)
    # What a 405's Allow header is computed from (problems._allowed).
    app.state.routes = [*health.router.routes, *routes.router.routes]
    return app
