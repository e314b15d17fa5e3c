"""``GET /api/v1/search``: full-text search over the caller's own tasks."""

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query

from services.search.app.deps import AppSettings, CurrentIdentity, RedisClient, Runtime
from services.search.app.schemas import SearchPage, SearchParams
from services.search.app.service import search_tasks
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
) -> dict[str, Any]:
    started = time.perf_counter()
    page = await search_tasks(
        index=runtime.index,
        redis=redis,
        owner_id=identity.user_id,
        params=params,
        ttl_seconds=settings.cache_ttl_seconds,
    )
    return {**page, "took_ms": round((time.perf_counter() - started) * 1000, 3)}
