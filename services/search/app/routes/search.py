"""``GET /api/v1/search``: full-text search over the caller's own tasks."""

import time
from typing import Annotated

import orjson
from fastapi import APIRouter, BackgroundTasks, Header, Query
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response

from services.search.app.consistency import wait_for_write
from services.search.app.deps import (
    AppSettings,
    Consistency,
    CurrentIdentity,
    FlagSet,
    RedisClient,
    Runtime,
)
from services.search.app.schemas import SearchPage, SearchParams
from services.search.app.service import run_search, search_tasks
from shared.consistency import CONSISTENCY_HEADER, MalformedToken, WrittenVersion
from shared.flags import evaluation_context
from shared.identity import Identity
from shared.problems import problem_responses

router = APIRouter(tags=["search"])
STALE_HEADER = "X-Search-Stale"
CONSISTENCY_DOC = "A task write's X-Consistency-Token: answer only once that write is searchable."


@router.get(
    "/api/v1/search",
    response_model=SearchPage,
    responses={
        200: {
            "headers": {
                STALE_HEADER: {
                    "description": "true: the token's write was not indexed in time.",
                    "schema": {"type": "string"},
                }
            }
        },
        **problem_responses(401, 422, 503),
    },
    summary="Search your tasks (typo-tolerant, prefix on the last word)",
)
async def search(
    identity: CurrentIdentity,
    params: Annotated[SearchParams, Query()],
    runtime: Runtime,
    redis: RedisClient,
    settings: AppSettings,
    tokens: Consistency,
    later: BackgroundTasks,
    flags: FlagSet,
    consistency_token: Annotated[
        str | None, Query(max_length=512, description=CONSISTENCY_DOC)
    ] = None,
    x_consistency_token: Annotated[
        str | None, Header(alias=CONSISTENCY_HEADER, max_length=512, description=CONSISTENCY_DOC)
    ] = None,
) -> Response:
    started = time.perf_counter()
    written = own_write(tokens, identity, x_consistency_token or consistency_token)
    context = evaluation_context(user_id=identity.user_id)
    prefix = flags.resolve_boolean("search.prefix-last-word", True, context).value
    headers: dict[str, str] = {}
    if written is None:
        page = await search_tasks(
            index=runtime.index,
            redis=redis,
            owner_id=identity.user_id,
            params=params,
            ttl_seconds=settings.cache_ttl_seconds,
            later=later,
            prefix_last_word=prefix,
        )
    else:
        fresh = await wait_for_write(
            written,
            index=lambda: runtime.index,
            commits=runtime.commits,
            timeout_seconds=settings.consistency_wait_ms / 1000,
        )
        if not fresh:
            headers[STALE_HEADER] = "true"
        # Past the cache: its invalidation may still be on its way after the commit.
        page = run_search(
            runtime.index, owner_id=identity.user_id, params=params, prefix_last_word=prefix
        )
    took_ms = round((time.perf_counter() - started) * 1000, 3)
    # Serialised here: the page is already in its public shape (SearchPage documents it),
    # and re-validating up to 100 hits per request would cost more than the search itself.
    body = orjson.dumps({**page, "took_ms": took_ms})
    return Response(body, media_type="application/json", headers=headers, background=later)


def own_write(tokens: Consistency, identity: Identity, token: str | None) -> WrittenVersion | None:
    """The write the caller's token names; ``None`` without one or for another user's."""
    if token is None:
        return None
    try:
        return tokens.open(token, user_id=identity.user_id)
    except MalformedToken:
        error = {"loc": ("header", CONSISTENCY_HEADER), "msg": "Not a consistency token."}
        raise RequestValidationError([{**error, "type": "value_error"}]) from None
