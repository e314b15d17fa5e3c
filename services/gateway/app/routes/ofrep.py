"""OFREP endpoints: ``POST /ofrep/v1/evaluate/flags`` (bulk, ETag) and ``.../flags/{key}``."""

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.gateway.app.deps import FlagSet, SignedInUser
from services.gateway.app.ofrep import (
    FlagFailed,
    FlagNotFound,
    InvalidContext,
    bulk_body,
    etag_matches,
    evaluate_all,
    evaluate_flag,
    parse_request,
)
from shared.problems import PROBLEM_CONTENT_TYPE, problem_body, problem_responses

BULK_PATH = "/ofrep/v1/evaluate/flags"
CONTEXT_BODY: dict[str, Any] = {
    "required": False,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"context": {"type": "object"}},
            }
        }
    },
}


def ofrep_failure(status: int, detail: str, **fields: str) -> Response:
    """OFREP's ``{key?, errorCode, errorDetails}`` inside an RFC 9457 problem (both hold)."""
    extra = {**fields, "errorDetails": detail}
    body = problem_body(status, detail, extra=extra)
    return Response(body, status_code=status, media_type=PROBLEM_CONTENT_TYPE)


def ofrep_router() -> APIRouter:
    router = APIRouter(tags=["feature flags"])

    @router.post(
        BULK_PATH,
        summary="Evaluate every client-visible flag for the signed-in user (OFREP bulk)",
        openapi_extra={"requestBody": CONTEXT_BODY},
        responses={
            304: {"description": "Not modified (If-None-Match matched the ETag)"},
            **problem_responses(400, 401, 429),
        },
    )
    async def evaluate_flags(request: Request, user: SignedInUser, flags: FlagSet) -> Response:
        try:
            parse_request(await request.body())
        except InvalidContext as exc:
            return ofrep_failure(400, exc.detail, errorCode="INVALID_CONTEXT")
        body, etag = bulk_body(evaluate_all(flags, user_id=user.user_id))
        headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
        if etag_matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/json", headers=headers)

    @router.post(
        BULK_PATH + "/{key}",
        summary="Evaluate one client-visible flag for the signed-in user (OFREP)",
        openapi_extra={"requestBody": CONTEXT_BODY},
        responses=problem_responses(400, 401, 404, 429),
    )
    async def evaluate_one_flag(
        key: str, request: Request, user: SignedInUser, flags: FlagSet
    ) -> Response:
        try:
            parse_request(await request.body())
            result = evaluate_flag(flags, key, user_id=user.user_id)
        except InvalidContext as exc:
            return ofrep_failure(400, exc.detail, key=key, errorCode="INVALID_CONTEXT")
        except FlagNotFound as exc:
            return ofrep_failure(404, exc.detail, key=key, errorCode="FLAG_NOT_FOUND")
        except FlagFailed as exc:
            return ofrep_failure(400, exc.detail, key=key, errorCode=exc.error_code)
        headers = {"Cache-Control": "private, no-cache"}
        return Response(orjson.dumps(result), media_type="application/json", headers=headers)

    return router
