"""OFREP endpoints: ``POST /ofrep/v1/evaluate/flags`` (bulk, ETag) and ``.../flags/{key}``."""

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.gateway.app.deps import FlagSet, Profiles, SignedInUser
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


# OFREP's own response schemas (open-feature/protocol service/openapi.yaml), for clients
# generated from this document.
METADATA = {"type": "object", "additionalProperties": {"type": ["boolean", "string", "number"]}}
SUCCESS = {
    "type": "object",
    "required": ["key", "reason"],
    "properties": {
        "key": {"type": "string"},
        "value": {"description": "Absent for a disabled flag: the client keeps its default."},
        "reason": {"type": "string", "examples": ["STATIC", "TARGETING_MATCH", "DISABLED"]},
        "variant": {"type": "string"},
        "metadata": METADATA,
    },
}
FAILURE = {
    "type": "object",
    "required": ["key", "errorCode"],
    "properties": {
        "key": {"type": "string"},
        "errorCode": {"type": "string"},
        "errorDetails": {"type": "string"},
    },
}
BULK_SCHEMA = {
    "type": "object",
    "required": ["flags"],
    "properties": {"flags": {"type": "array", "items": {"anyOf": [SUCCESS, FAILURE]}}},
}
IF_NONE_MATCH = {"name": "If-None-Match", "in": "header", "schema": {"type": "string"}}


def ok(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


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
        openapi_extra={"requestBody": CONTEXT_BODY, "parameters": [IF_NONE_MATCH]},
        responses={
            200: ok(BULK_SCHEMA, "Every client-visible flag, evaluated; ETag in the headers"),
            304: {"description": "Not modified (If-None-Match matched the ETag)"},
            **problem_responses(400, 401, 429),
        },
    )
    async def evaluate_flags(
        request: Request, user: SignedInUser, flags: FlagSet, profiles: Profiles
    ) -> Response:
        try:
            parse_request(await request.body())
        except InvalidContext as exc:
            return ofrep_failure(400, exc.detail, errorCode="INVALID_CONTEXT")
        body, etag = bulk_body(evaluate_all(flags, context=await profiles.context(user)))
        headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
        if etag_matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/json", headers=headers)

    @router.post(
        BULK_PATH + "/{key}",
        summary="Evaluate one client-visible flag for the signed-in user (OFREP)",
        openapi_extra={"requestBody": CONTEXT_BODY},
        responses={
            200: ok(SUCCESS, "The flag, evaluated"),
            **problem_responses(400, 401, 404, 429),
        },
    )
    async def evaluate_one_flag(
        key: str, request: Request, user: SignedInUser, flags: FlagSet, profiles: Profiles
    ) -> Response:
        try:
            parse_request(await request.body())
            result = evaluate_flag(flags, key, context=await profiles.context(user))
        except InvalidContext as exc:
            return ofrep_failure(400, exc.detail, key=key, errorCode="INVALID_CONTEXT")
        except FlagNotFound as exc:
            return ofrep_failure(404, exc.detail, key=key, errorCode="FLAG_NOT_FOUND")
        except FlagFailed as exc:
            return ofrep_failure(400, exc.detail, key=key, errorCode=exc.error_code)
        headers = {"Cache-Control": "private, no-cache"}
        return Response(orjson.dumps(result), media_type="application/json", headers=headers)

    return router
