"""notification-service application factory: POST /notify behind an API key, GET to inspect."""

import contextlib
import hmac
from collections.abc import AsyncIterator
from http import HTTPStatus

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from dapr_sidecar import connected_in_background
from dapr_sidecar.problems import problem
from notifier.dapr_io import DaprIO, SecretUnavailableError, StateUnavailableError
from notifier.models import Notification, NotifyRequest, NotifyResult
from notifier.recorder import Recorder
from notifier.service import Notifications, Outcome
from notifier.settings import Settings, get_settings


def _router(settings: Settings) -> APIRouter:
    router = APIRouter()

    @router.post("/notify", response_model=None)
    async def notify(body: NotifyRequest, request: Request) -> NotifyResult | JSONResponse:
        io: DaprIO = request.app.state.io
        api_key = request.headers.get(settings.api_key_header)
        try:
            expected = await io.api_key()
        except SecretUnavailableError as exc:
            return problem(HTTPStatus.SERVICE_UNAVAILABLE, str(exc))
        if api_key is None or not hmac.compare_digest(api_key.encode(), expected.encode()):
            return problem(
                HTTPStatus.UNAUTHORIZED, f"missing or wrong {settings.api_key_header} header"
            )
        notifications: Notifications = request.app.state.notifications
        try:
            outcome = await notifications.notify(body)
        except StateUnavailableError as exc:
            return problem(HTTPStatus.SERVICE_UNAVAILABLE, str(exc))
        if outcome == Outcome.BUSY:
            return problem(
                HTTPStatus.SERVICE_UNAVAILABLE,
                f"event {body.event_id} is being notified by another replica; retry later",
            )
        return NotifyResult(event_id=body.event_id, recorded=outcome == Outcome.SENT)

    @router.get("/notifications")
    async def notifications(
        request: Request, task_id: str | None = None, after: int = 0
    ) -> list[Notification]:
        """The recent notifications, oldest first; ``after``: only those with a higher seq
        (a reader following the record misses none the bound later drops)."""
        recorder: Recorder = request.app.state.recorder
        return recorder.list(task_id, after)

    @router.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/ready", response_model=None)
    async def ready(request: Request) -> dict[str, str] | JSONResponse:
        io: DaprIO = request.app.state.io
        try:
            await io.api_key()
        except SecretUnavailableError as exc:
            return problem(HTTPStatus.SERVICE_UNAVAILABLE, str(exc))
        return {"status": "ready"}

    return router


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        io = DaprIO(settings)
        recorder = Recorder(settings.record_limit)
        app.state.io = io
        app.state.recorder = recorder
        app.state.notifications = Notifications(io, recorder, settings)
        async with connected_in_background(io.sidecar):
            yield

    app = FastAPI(title="notification-service", lifespan=lifespan)
    app.include_router(_router(settings))
    return app
