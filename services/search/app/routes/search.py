"""``GET /api/v1/search``: full-text search over the caller's own tasks."""

import time
from typing import Annotated

import orjson
from fastapi import APIRouter, BackgroundTasks, Query
from starlette.responses import Response

from services.search.app.deps import AppSettings, CurrentIdentity, FlagSet, RedisClient, Runtime
from services.search.app.schemas import SearchPage, SearchParams
from services.search.app.service import search_tasks
from shared.flags import evaluation_context
from shared.problems import problem_responses

router = APIRouter(tags=["search"])


@router.get(
    "/api/v1/search",
    response_model=SearchPage,
    responses=problem_responses(401, 422, 503),
    summary="Search your tasks (typo-tolerant, prefix on the last word)",
)
async def search(
    identity: CurrentIdentity,
    params: Annotated[SearchParams, Query()],
    runtime: Runtime,
    redis: RedisClient,
    settings: AppSettings,
    later: BackgroundTasks,
    flags: FlagSet,
) -> Response:
    started = time.perf_counter()
    context = evaluation_context(user_id=identity.user_id)
    prefix = flags.resolve_boolean("search.prefix-last-word", True, context).value
    page = await search_tasks(
        index=runtime.index,
        redis=redis,
        owner_id=identity.user_id,
        params=params,
        ttl_seconds=settings.cache_ttl_seconds,
        later=later,
        prefix_last_word=prefix,
    )
    took_ms = round((time.perf_counter() - started) * 1000, 3)
    # Serialised here: the page is already in its public shape (SearchPage documents it),
    # and re-validating up to 100 hits per request would cost more than the search itself.
    body = orjson.dumps({**page, "took_ms": took_ms})
    return Response(body, media_type="application/json", background=later)
