"""``/api/v1/tasks``: create, list, read, merge-patch, delete and stats of the caller's tasks."""

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from services.tasks.app.deps import Consistency, CurrentIdentity, Tasks
from services.tasks.app.documents import etag_of
from services.tasks.app.errors import UnsupportedPatchType
from services.tasks.app.routes.preconditions import none_match, parse_etags
from services.tasks.app.schemas import (
    ListQuery,
    Task,
    TaskCreate,
    TaskList,
    TaskPage,
    TaskPatch,
    TaskStats,
    inline_schema,
)
from shared.consistency import CONSISTENCY_HEADER
from shared.identity import Identity
from shared.problems import problem_responses

PREFIX = "/api/v1/tasks"
PATCH_MEDIA_TYPES = ("application/merge-patch+json", "application/json")
router = APIRouter(prefix=PREFIX, tags=["tasks"], responses=problem_responses(401, 422, 503))
IfMatch = Annotated[
    str | None, Header(description="Apply only if the task's ETag is one of these.")
]


WRITE_HEADERS = {
    "ETag": {"schema": {"type": "string"}},
    CONSISTENCY_HEADER: {
        "description": "Opaque; send it to search to read this write.",
        "schema": {"type": "string"},
    },
}


def with_etag(response: Response, task: Task) -> Task:
    response.headers["ETag"] = etag_of(task.id, task.version)
    return task


def written(response: Response, task: Task, *, identity: Identity, tokens: Consistency) -> Task:
    """The answer to a write: the task with its ETag and a token naming this version."""
    response.headers[CONSISTENCY_HEADER] = tokens.issue(
        user_id=identity.user_id, task_id=task.id, version=task.version
    )
    return with_etag(response, task)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Task,
    responses={201: {"headers": {"Location": {"schema": {"type": "string"}}, **WRITE_HEADERS}}},
)
async def create_task(
    body: TaskCreate,
    identity: CurrentIdentity,
    tasks: Tasks,
    tokens: Consistency,
    response: Response,
) -> Task:
    task = await tasks.create_task(owner_id=identity.user_id, fields=body)
    response.headers["Location"] = f"{PREFIX}/{task.id}"
    return written(response, task, identity=identity, tokens=tokens)


@router.get("", response_model=TaskList | TaskPage, responses=problem_responses(400))
async def list_tasks(
    query: Annotated[ListQuery, Query()], identity: CurrentIdentity, tasks: Tasks
) -> TaskList | TaskPage:
    return await tasks.list_tasks(owner_id=identity.user_id, query=query)


@router.get("/stats", response_model=TaskStats)
async def task_stats(identity: CurrentIdentity, tasks: Tasks) -> TaskStats:
    return await tasks.task_stats(owner_id=identity.user_id)


@router.get(
    "/{task_id}",
    response_model=Task,
    responses={304: {"description": "Not Modified"}, **problem_responses(404)},
)
async def get_task(
    task_id: str,
    identity: CurrentIdentity,
    tasks: Tasks,
    response: Response,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Task | Response:
    task = await tasks.get_task(owner_id=identity.user_id, task_id=task_id)
    etag = etag_of(task.id, task.version)
    if not none_match(if_none_match, etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
    return with_etag(response, task)


PATCH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {media: {"schema": inline_schema(TaskPatch)} for media in PATCH_MEDIA_TYPES},
    }
}


@router.patch(
    "/{task_id}",
    response_model=Task,
    openapi_extra=PATCH_BODY,
    responses={200: {"headers": WRITE_HEADERS}, **problem_responses(404, 409, 412, 415)},
)
async def patch_task(
    task_id: str,
    request: Request,
    identity: CurrentIdentity,
    tasks: Tasks,
    tokens: Consistency,
    response: Response,
    if_match: IfMatch = None,
) -> Task:
    patch = await merge_patch_body(request)
    try:
        task = await tasks.update_task(
            owner_id=identity.user_id,
            task_id=task_id,
            patch=patch,
            expected_etags=parse_etags(if_match),
        )
    except ValidationError as exc:
        raise body_errors(exc) from None
    return written(response, task, identity=identity, tokens=tokens)


@router.delete(
    "/{task_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={
        204: {"headers": {CONSISTENCY_HEADER: WRITE_HEADERS[CONSISTENCY_HEADER]}},
        **problem_responses(404, 409, 412),
    },
)
async def delete_task(
    task_id: str,
    identity: CurrentIdentity,
    tasks: Tasks,
    tokens: Consistency,
    if_match: IfMatch = None,
) -> Response:
    version = await tasks.delete_task(
        owner_id=identity.user_id, task_id=task_id, expected_etags=parse_etags(if_match)
    )
    token = tokens.issue(user_id=identity.user_id, task_id=task_id, version=version)
    return Response(status_code=status.HTTP_204_NO_CONTENT, headers={CONSISTENCY_HEADER: token})


async def merge_patch_body(request: Request) -> object:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in PATCH_MEDIA_TYPES:
        raise UnsupportedPatchType("Send a JSON merge patch (application/merge-patch+json).")
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        error = {"loc": ("body",), "msg": "The body is not valid JSON.", "type": "json_invalid"}
        raise RequestValidationError([error]) from None


def body_errors(exc: ValidationError) -> RequestValidationError:
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    return RequestValidationError([{**error, "loc": ("body", *error["loc"])} for error in errors])
