"""Liveness and readiness: ready only while the sidecar answers and has our components."""

from http import HTTPStatus

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from taskapi.dapr_io import DaprIO
from taskapi.errors import TaskApiError
from taskapi.problems import problem

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    # Liveness must not depend on the sidecar: restarting the app would not fix it.
    return {"status": "ok"}


@router.get("/ready", response_model=None)
async def ready(request: Request) -> dict[str, str] | JSONResponse:
    io: DaprIO = request.app.state.io
    try:
        missing = await io.missing_components()
    except TaskApiError as exc:
        return problem(HTTPStatus.SERVICE_UNAVAILABLE, f"Dapr sidecar not ready: {exc}")
    if missing:
        return problem(
            HTTPStatus.SERVICE_UNAVAILABLE,
            f"Dapr sidecar has not loaded component(s): {', '.join(missing)}",
        )
    return {"status": "ready"}
