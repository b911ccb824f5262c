"""HTTP routes of the Task API: thin adapters from requests to TaskService calls.

The decorators also carry the OpenAPI contract: every status a route can answer (problem
responses as application/problem+json), the ETag and Location headers, and links from a
created task to the operations on it, so generated clients and schemathesis reach real tasks.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response, status
from pydantic import Field, StringConstraints
from pydantic.json_schema import SkipJsonSchema

from taskapi import etags
from taskapi.errors import PreconditionRequiredError, TaskNotFoundError
from taskapi.index import CURSOR_PATTERN
from taskapi.models import (
    TASK_ID_PATTERN,
    Task,
    TaskActivity,
    TaskCreate,
    TaskPage,
    TaskStatus,
    TaskUpdate,
)
from taskapi.problems import PROBLEM_RESPONSES
from taskapi.service import TaskService

router = APIRouter(prefix="/tasks", tags=["tasks"])

TaskIdPath = Annotated[str, Path(pattern=TASK_ID_PATTERN, description="id of a task")]
# Optional, but never "null": SkipJsonSchema keeps None out of the documented schema.
IfMatch = Annotated[
    Annotated[str, StringConstraints(pattern=etags.IF_MATCH_PATTERN)] | SkipJsonSchema[None],
    Header(alias="If-Match", description="ETag of the version the change applies to, or *"),
]
CursorQuery = Annotated[
    Annotated[str, StringConstraints(pattern=CURSOR_PATTERN)] | SkipJsonSchema[None],
    Query(description="next_cursor of the previous page"),
]
LimitQuery = Annotated[
    Annotated[int, Field(ge=1, le=1000)] | SkipJsonSchema[None],
    Query(description="page size (capped by the server's maximum)"),
]
ETAG = "ETag"

_ETAG_HEADER = {
    ETAG: {
        "description": "the task's revision; send it back as If-Match",
        "schema": {"type": "string"},
    }
}
_BY_ID = {"task_id": "$response.body#/id"}
_LINKS = {
    "GetTask": {"operationId": "get_task", "parameters": _BY_ID},
    "UpdateTask": {"operationId": "update_task", "parameters": _BY_ID},
    "SetTaskStatus": {"operationId": "set_task_status", "parameters": _BY_ID},
    "DeleteTask": {"operationId": "delete_task", "parameters": _BY_ID},
}


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: PROBLEM_RESPONSES[code] for code in codes}


def _task_ok(code: int = 200) -> dict[int | str, dict[str, Any]]:
    return {code: {"headers": _ETAG_HEADER, "links": _LINKS}}


def _service(request: Request) -> TaskService:
    service: TaskService = request.app.state.service
    return service


def _precondition(request: Request, raw: str | None) -> str | None:
    if raw is None and request.app.state.settings.require_if_match:
        raise PreconditionRequiredError
    return etags.parse_if_match(raw)


def _with_etag(response: Response, task: Task) -> Task:
    response.headers[ETAG] = etags.to_header(task.revision)
    return task


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    operation_id="create_task",
    responses={
        201: {
            "headers": {
                **_ETAG_HEADER,
                "Location": {"description": "path of the new task", "schema": {"type": "string"}},
            },
            "links": _LINKS,
        },
        **_problems(400, 409, 422, 503),
    },
)
async def create_task(body: TaskCreate, request: Request, response: Response) -> Task:
    task = await _service(request).create(body)
    response.headers["Location"] = str(request.url_for("get_task", task_id=task.id).path)
    return _with_etag(response, task)


@router.get("", operation_id="list_tasks", responses=_problems(422, 503))
async def list_tasks(
    request: Request,
    cursor: CursorQuery = None,
    limit: LimitQuery = None,
) -> TaskPage:
    return await _service(request).list(cursor, limit)


@router.get(
    "/{task_id}", operation_id="get_task", responses={**_task_ok(), **_problems(404, 422, 503)}
)
async def get_task(task_id: TaskIdPath, request: Request, response: Response) -> Task:
    return _with_etag(response, await _service(request).get(task_id))


@router.patch(
    "/{task_id}",
    operation_id="update_task",
    responses={**_task_ok(), **_problems(400, 404, 409, 412, 422, 428, 503)},
)
async def update_task(
    task_id: TaskIdPath,
    body: TaskUpdate,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> Task:
    task = await _service(request).update(task_id, body, _precondition(request, if_match))
    return _with_etag(response, task)


@router.put(
    "/{task_id}/status",
    operation_id="set_task_status",
    responses={**_task_ok(), **_problems(404, 409, 412, 422, 428, 503)},
)
async def set_task_status(
    task_id: TaskIdPath,
    status: TaskStatus,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> Task:
    task = await _service(request).set_status(task_id, status, _precondition(request, if_match))
    return _with_etag(response, task)


@router.delete(
    "/{task_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="delete_task",
    responses=_problems(404, 409, 412, 422, 428, 503),
)
async def delete_task(task_id: TaskIdPath, request: Request, if_match: IfMatch = None) -> Response:
    await _service(request).delete(task_id, _precondition(request, if_match))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# Not in the API contract (OpenAPI): a diagnostic view of the subscription's dedup record,
# eventually consistent, and kept for a while after the task is deleted.
@router.get("/{task_id}/activity", operation_id="task_activity", include_in_schema=False)
async def task_activity(task_id: TaskIdPath, request: Request) -> TaskActivity:
    """What the event subscription has processed for this task."""
    activity = await _service(request).store.activity(task_id)
    if activity is None:
        raise TaskNotFoundError(task_id)
    return activity
