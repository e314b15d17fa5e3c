"""RFC 9457 problem details: the one error shape of every Taskstream response.

Services raise ``DomainError`` subclasses that know nothing about HTTP; each service maps its
error classes to a status once, in ``install_problem_handlers``.
"""

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from pymongo.errors import ConnectionFailure as MongoConnectionFailure
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from shared.context import current_request_id

PROBLEM_CONTENT_TYPE = "application/problem+json"
log = logging.getLogger("taskstream.errors")


class DomainError(Exception):
    """Base of every service's domain errors; ``detail`` is safe to show a client."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail)
        self.detail = detail


class DependencyUnavailable(DomainError):
    """A store or broker this request needs did not answer; the client may retry."""


ProblemMap = Mapping[type[DomainError], int]
# Outages of a store surface as 503 + Retry-After, never as a 500 with a driver message.
DEPENDENCY_ERRORS: tuple[type[Exception], ...] = (
    MongoConnectionFailure,
    RedisConnectionError,
    RedisTimeoutError,
    DependencyUnavailable,
)

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    428: "Precondition Required",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class Problem(BaseModel):
    """RFC 9457 problem details, as documented in every service's OpenAPI."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    request_id: str
    # Plain objects ({loc, msg, type}) keep the schema free of $refs, so it can be inlined.
    errors: list[dict[str, Any]] | None = None


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the problem statuses a route can return."""
    content = {PROBLEM_CONTENT_TYPE: {"schema": Problem.model_json_schema()}}
    return {status: {"description": title_for(status), "content": content} for status in statuses}


def title_for(status: int) -> str:
    return _TITLES.get(status, "Error")


def problem_body(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> bytes:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or title_for(status),
        "status": status,
        "detail": detail,
        "request_id": current_request_id(),
    }
    if errors is not None:
        body["errors"] = list(errors)
    if extra:
        body.update(extra)
    return orjson.dumps(body)


def problem_response(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    body = problem_body(status, detail, title=title, errors=errors, extra=extra)
    return Response(body, status_code=status, headers=headers, media_type=PROBLEM_CONTENT_TYPE)


def validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Pydantic's errors without the offending input, which may be a secret or be huge."""
    return [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]


def install_problem_handlers(app: FastAPI, domain_errors: ProblemMap) -> None:
    """Map framework errors, the service's domain errors and anything unexpected once."""

    async def on_validation(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return problem_response(422, "The request is not valid.", errors=validation_errors(exc))

    async def on_http(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else title_for(exc.status_code)
        return problem_response(exc.status_code, detail, headers=exc.headers)

    async def on_domain(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, DomainError)
        status = status_for(exc, domain_errors)
        headers = getattr(exc, "headers", None)
        return problem_response(status, exc.detail or title_for(status), headers=headers)

    async def on_dependency_down(_: Request, exc: Exception) -> Response:
        log.warning("dependency unavailable: %s", type(exc).__name__)
        return problem_response(
            503,
            "A backing service is unavailable; try again shortly.",
            headers={"Retry-After": "2"},
        )

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(DomainError, on_domain)
    for exc_type in DEPENDENCY_ERRORS:
        app.add_exception_handler(exc_type, on_dependency_down)


def status_for(exc: DomainError, domain_errors: ProblemMap) -> int:
    for cls in type(exc).__mro__:
        if cls in domain_errors:
            return domain_errors[cls]
    return 500
