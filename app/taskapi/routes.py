"""HTTP routes of the Task API: thin adapters from requests to TaskService calls.

The decorators also carry the OpenAPI contract: every status a route can answer (problem
responses as application/problem+json), the ETag and Location headers, and links from a
created task to the operations on it, so generated clients and schemathesis reach real tasks.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status
from pydantic import Field, StringConstraints
from pydantic.json_schema import SkipJsonSchema

from taskapi import etags
from taskapi.activity import ActivityLog
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
from taskapi.settings import Settings

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


# -- dependencies: what main.create_app built (tests override them) ---------------------
# All `async def`: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per
# dependency per request (a profile under load showed a fifth of the app's samples there).


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_service(request: Request) -> TaskService:
    service: TaskService = request.app.state.service
    return service


async def get_activity(request: Request) -> ActivityLog:
    activity: ActivityLog = request.app.state.activity
    return activity


async def precondition(
    settings: Annotated[Settings, Depends(get_settings)], if_match: IfMatch = None
) -> str | None:
    """The revision If-Match names (or *); None without the header, unless it is required."""
    if if_match is None and settings.require_if_match:
        raise PreconditionRequiredError
    return etags.parse_if_match(if_match)


Service = Annotated[TaskService, Depends(get_service)]
Precondition = Annotated[str | None, Depends(precondition)]


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
async def create_task(
    body: TaskCreate, service: Service, request: Request, response: Response
) -> Task:
    task = await service.create(body)
    response.headers["Location"] = str(request.url_for("get_task", task_id=task.id).path)
    return _with_etag(response, task)


@router.get("", operation_id="list_tasks", responses=_problems(422, 503))
async def list_tasks(
    service: Service,
    cursor: CursorQuery = None,
    limit: LimitQuery = None,
) -> TaskPage:
    return await service.list(cursor, limit)


@router.get(
    "/{task_id}", operation_id="get_task", responses={**_task_ok(), **_problems(404, 422, 503)}
)
async def get_task(task_id: TaskIdPath, service: Service, response: Response) -> Task:
    return _with_etag(response, await service.get(task_id))


@router.patch(
    "/{task_id}",
    operation_id="update_task",
    responses={**_task_ok(), **_problems(400, 404, 409, 412, 422, 428, 503)},
)
async def update_task(
    task_id: TaskIdPath,
    body: TaskUpdate,
    service: Service,
    if_match: Precondition,
    response: Response,
) -> Task:
    task = await service.update(task_id, body, if_match)
    return _with_etag(response, task)


@router.put(
    "/{task_id}/status",
    operation_id="set_task_status",
    responses={**_task_ok(), **_problems(404, 409, 412, 422, 428, 503)},
)
async def set_task_status(
    task_id: TaskIdPath,
    status: TaskStatus,
    service: Service,
    if_match: Precondition,
    response: Response,
) -> Task:
    task = await service.set_status(task_id, status, if_match)
    return _with_etag(response, task)


@router.delete(
    "/{task_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="delete_task",
    responses=_problems(404, 409, 412, 422, 428, 503),
)
async def delete_task(task_id: TaskIdPath, service: Service, if_match: Precondition) -> Response:
    await service.delete(task_id, if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# Not in the API contract (OpenAPI): a diagnostic view of the subscription's dedup record,
# eventually consistent, and kept for a while after the task is deleted.
@router.get("/{task_id}/activity", operation_id="task_activity", include_in_schema=False)
async def task_activity(
    task_id: TaskIdPath, log: Annotated[ActivityLog, Depends(get_activity)]
) -> TaskActivity:
    """What the event subscription has processed for this task."""
    activity = await log.get(task_id)
    if activity is None:
        raise TaskNotFoundError(task_id)
    return activity
