"""Liveness and readiness: ready only while the sidecar answers and has our components."""

from http import HTTPStatus
from typing import Annotated, Protocol

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from dapr_sidecar.problems import problem
from taskapi.errors import TaskApiError

router = APIRouter(tags=["health"])


class Sidecar(Protocol):
    async def missing_components(self) -> list[str]: ...


async def get_sidecar(request: Request) -> Sidecar:
    """The dependency /ready is served with: the app's DaprIO (built in the lifespan)."""
    sidecar: Sidecar = request.app.state.io
    return sidecar


@router.get("/health")
async def health() -> dict[str, str]:
    # Liveness must not depend on the sidecar: restarting the app would not fix it.
    return {"status": "ok"}


@router.get("/ready", response_model=None)
async def ready(sidecar: Annotated[Sidecar, Depends(get_sidecar)]) -> dict[str, str] | JSONResponse:
    try:
        missing = await sidecar.missing_components()
    except TaskApiError as exc:
        return problem(HTTPStatus.SERVICE_UNAVAILABLE, f"Dapr sidecar not ready: {exc}")
    if missing:
        return problem(
            HTTPStatus.SERVICE_UNAVAILABLE,
            f"Dapr sidecar has not loaded component(s): {', '.join(missing)}",
        )
    return {"status": "ready"}
