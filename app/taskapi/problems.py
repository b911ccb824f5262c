"""HTTP problem responses (RFC 9457) for every failure: clear messages, never a traceback.

Rendered by the renderer both apps share (dapr_sidecar.problems); what is the Task API's
own is the mapping of its errors to statuses and the documented responses in the OpenAPI.
"""

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.routing import Match

from dapr_sidecar.problems import PROBLEM_JSON, problem
from taskapi.errors import (
    ConflictRetriesExhaustedError,
    DaprUnavailableError,
    PreconditionFailedError,
    PreconditionRequiredError,
    TaskApiError,
    TaskNotFoundError,
)
from taskapi.index import InvalidCursorError

log = logging.getLogger(__name__)

__all__ = ["PROBLEM_JSON", "PROBLEM_RESPONSES", "Problem", "install", "problem"]

STATUS_OF: dict[type[Exception], HTTPStatus] = {
    TaskNotFoundError: HTTPStatus.NOT_FOUND,
    PreconditionFailedError: HTTPStatus.PRECONDITION_FAILED,
    PreconditionRequiredError: HTTPStatus.PRECONDITION_REQUIRED,
    ConflictRetriesExhaustedError: HTTPStatus.CONFLICT,
    DaprUnavailableError: HTTPStatus.SERVICE_UNAVAILABLE,
    InvalidCursorError: HTTPStatus.UNPROCESSABLE_ENTITY,
}


class Problem(BaseModel):
    """RFC 9457 problem details; `errors` lists the fields a 422 rejected."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = None


_WHY = {
    400: "the body is not valid JSON",
    404: "no task with this id (or it was deleted)",
    409: "the task kept changing under concurrent writers; retry",
    412: "If-Match does not match the task's current ETag",
    422: "the request is invalid (body, query, path id or cursor)",
    428: "If-Match is required (TASKAPI_REQUIRE_IF_MATCH)",
    503: "the Dapr sidecar or its state store is unavailable; retry after Retry-After",
}
_SCHEMA = {"schema": {"$ref": "#/components/schemas/Problem"}}
PROBLEM_RESPONSES: dict[int, dict[str, Any]] = {
    code: {"description": why, "model": Problem, "content": {PROBLEM_JSON: _SCHEMA}}
    for code, why in _WHY.items()
}
PROBLEM_RESPONSES[503]["headers"] = {
    "Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "string"}}
}


def _status(exc: Exception) -> HTTPStatus:
    for kind, status in STATUS_OF.items():
        if isinstance(exc, kind):
            return status
    return HTTPStatus.INTERNAL_SERVER_ERROR


async def _known(_: Request, exc: Exception) -> JSONResponse:
    status = _status(exc)
    if status == HTTPStatus.INTERNAL_SERVER_ERROR:
        log.error("Request failed error=%s", exc)
    return problem(status, str(exc))


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    errors = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in (exc.errors() if isinstance(exc, RequestValidationError) else [])
    ]
    reasons = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
    return problem(HTTPStatus.UNPROCESSABLE_ENTITY, reasons, errors=errors)


def _allowed(request: Request) -> str:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.state.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        route_methods = getattr(route, "methods", None)
        if match != Match.NONE and route_methods:
            methods |= set(route_methods)
    return ", ".join(sorted(methods))


async def _http(request: Request, exc: Exception) -> JSONResponse:
    code = exc.status_code if isinstance(exc, HTTPException) else 500
    status = HTTPStatus(code)
    headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
    if status == HTTPStatus.METHOD_NOT_ALLOWED:
        headers["Allow"] = _allowed(request)
    detail = exc.detail if isinstance(exc, HTTPException) else status.phrase
    return problem(status, str(detail), headers=headers or None)


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.error("Unhandled error", exc_info=exc)
    return problem(HTTPStatus.INTERNAL_SERVER_ERROR, "unexpected error; see the server log")


def _problems_only(app: FastAPI) -> None:
    """FastAPI documents a response `model` as application/json too; failures are only
    ever problem+json, so the spec says exactly that."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = build()
            for operations in spec.get("paths", {}).values():
                for operation in operations.values():
                    for response in operation.get("responses", {}).values():
                        content = response.get("content", {})
                        if PROBLEM_JSON in content:
                            content.pop("application/json", None)
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI) -> None:
    _problems_only(app)
    app.add_exception_handler(TaskApiError, _known)
    app.add_exception_handler(InvalidCursorError, _known)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
