"""HTTP problem responses (RFC 9457) for every failure: clear messages, never a traceback."""

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from taskapi.errors import (
    ConflictRetriesExhaustedError,
    DaprUnavailableError,
    PreconditionFailedError,
    TaskApiError,
    TaskNotFoundError,
)
from taskapi.index import InvalidCursorError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_SECONDS = "5"

STATUS_OF: dict[type[Exception], HTTPStatus] = {
    TaskNotFoundError: HTTPStatus.NOT_FOUND,
    PreconditionFailedError: HTTPStatus.PRECONDITION_FAILED,
    ConflictRetriesExhaustedError: HTTPStatus.CONFLICT,
    DaprUnavailableError: HTTPStatus.SERVICE_UNAVAILABLE,
    InvalidCursorError: HTTPStatus.UNPROCESSABLE_ENTITY,
}


def problem(status: HTTPStatus, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": status.phrase, "status": int(status),
            "detail": detail, **extra}
    unavailable = status == HTTPStatus.SERVICE_UNAVAILABLE
    headers = {"Retry-After": RETRY_AFTER_SECONDS} if unavailable else None
    return JSONResponse(jsonable_encoder(body), status_code=int(status), media_type=PROBLEM_JSON,
                        headers=headers)


def _status(exc: Exception) -> HTTPStatus:
    for kind, status in STATUS_OF.items():
        if isinstance(exc, kind):
            return status
    return HTTPStatus.INTERNAL_SERVER_ERROR


async def _known(_: Request, exc: Exception) -> JSONResponse:
    return problem(_status(exc), str(exc))


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    reasons = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
    return problem(HTTPStatus.UNPROCESSABLE_ENTITY, reasons, errors=errors)


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", exc_info=exc)
    return problem(HTTPStatus.INTERNAL_SERVER_ERROR, "unexpected error; see the server log")


def install(app: FastAPI) -> None:
    app.add_exception_handler(TaskApiError, _known)
    app.add_exception_handler(InvalidCursorError, _known)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(Exception, _unexpected)
