"""HTTP problem responses (RFC 9457), rendered the same way by both apps.

A 503 always carries Retry-After: both apps answer 503 only for a sidecar or component
that is expected back, and callers (Dapr's resiliency, HTTP clients) should wait, not hammer.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_SECONDS = "5"


def problem(
    status: HTTPStatus, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {
        "type": "about:blank",
        "title": status.phrase,
        "status": int(status),
        "detail": detail,
        **extra,
    }
    if status == HTTPStatus.SERVICE_UNAVAILABLE:
        headers = {**(headers or {}), "Retry-After": RETRY_AFTER_SECONDS}
    return JSONResponse(
        jsonable_encoder(body), status_code=int(status), media_type=PROBLEM_JSON, headers=headers
    )
