"""HTTP routes of the Task API: thin adapters from requests to TaskService calls."""

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status

from taskapi import etags
from taskapi.errors import TaskNotFoundError
from taskapi.models import Task, TaskActivity, TaskCreate, TaskPage, TaskStatus, TaskUpdate
from taskapi.service import TaskService
from taskapi.store import Versioned

router = APIRouter(prefix="/tasks", tags=["tasks"])

IfMatch = Annotated[str | None, Header(alias="If-Match")]
ETAG = "ETag"


def _service(request: Request) -> TaskService:
    service: TaskService = request.app.state.service
    return service


def _versioned(response: Response, saved: Versioned) -> Task:
    if saved.etag is not None:
        response.headers[ETAG] = etags.to_header(saved.etag)
    return saved.task


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_task(body: TaskCreate, request: Request, response: Response) -> Task:
    saved = await _service(request).create(body)
    response.headers["Location"] = str(request.url_for("get_task", task_id=saved.task.id).path)
    return _versioned(response, saved)


@router.get("")
async def list_tasks(
    request: Request,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
) -> TaskPage:
    return await _service(request).list(cursor, limit)


@router.get("/{task_id}")
async def get_task(task_id: str, request: Request, response: Response) -> Task:
    return _versioned(response, await _service(request).get(task_id))


@router.patch("/{task_id}")
async def update_task(
    task_id: str, body: TaskUpdate, request: Request, response: Response, if_match: IfMatch = None
) -> Task:
    saved = await _service(request).update(task_id, body, etags.parse_if_match(if_match))
    return _versioned(response, saved)


@router.put("/{task_id}/status")
async def set_task_status(
    task_id: str, status: TaskStatus, request: Request, response: Response,
    if_match: IfMatch = None,
) -> Task:
    saved = await _service(request).set_status(task_id, status, etags.parse_if_match(if_match))
    return _versioned(response, saved)


@router.delete("/{task_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_task(task_id: str, request: Request, if_match: IfMatch = None) -> Response:
    await _service(request).delete(task_id, etags.parse_if_match(if_match))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{task_id}/activity")
async def task_activity(task_id: str, request: Request) -> TaskActivity:
    """What the event subscription has processed for this task."""
    activity = await _service(request).store.activity(task_id)
    if activity is None:
        raise TaskNotFoundError(task_id)
    return activity
