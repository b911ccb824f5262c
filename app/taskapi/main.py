"""The Task API application factory: every part built here, by constructor, once per app.

One DaprIO (one Dapr client) per process is the app's StateStore and notifier; the store
layer (tasks, index, activity) sits on it, the service and the subscription on that. Routes
reach them through FastAPI dependencies (taskapi.routes), which tests override.
"""

import contextlib
import gc
from collections.abc import AsyncIterator

from fastapi import FastAPI

from dapr_sidecar import connected_in_background
from taskapi import health, problems, routes, subscriber
from taskapi.activity import ActivityLog
from taskapi.dapr_io import DaprIO
from taskapi.metrics import Metrics, install
from taskapi.service import TaskService
from taskapi.settings import Settings, get_settings
from taskapi.shards import ShardedIndex
from taskapi.tasks import TaskStore


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        io = DaprIO(settings, observe=metrics.observe_dapr_call)
        index = ShardedIndex(io, grace_seconds=settings.index_grace_seconds)
        tasks = TaskStore(io, index, settings)
        activity = ActivityLog(io, settings)
        app.state.io = io
        app.state.service = TaskService(tasks, settings)
        app.state.activity = activity
        app.state.processor = subscriber.EventProcessor(io, activity, settings)
        # Everything made so far (modules, routes, the app's models) lives as long as the
        # process: out of the collector's sight, a full collection no longer walks it, which
        # showed as event-loop pauses in the slowest requests.
        gc.freeze()
        async with connected_in_background(io.sidecar):
            try:
                yield
            finally:
                await io.close()

    app = FastAPI(title="Task API", version="2", lifespan=lifespan)
    app.state.settings = settings
    problems.install(app)
    install(app, metrics)  # GET /metrics (requests by route and status, Dapr call latency)
    app.include_router(health.router)
    app.include_router(routes.router)
    subscriber.subscribe(app, settings)
    # What a 405's Allow header is computed from (problems._allowed).
    app.state.routes = [*health.router.routes, *routes.router.routes]
    return app
