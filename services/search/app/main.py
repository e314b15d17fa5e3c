"""The search service app: ``create_app(settings)``; clients open in the lifespan."""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from services.search.app.config import Settings
from services.search.app.errors import PROBLEM_STATUSES
from services.search.app.routes import ROUTERS
from shared.app import build_service_app
from shared.clients import kafka_metadata_check, open_redis, redis_ping


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            redis = await stack.enter_async_context(open_redis(settings.redis_url))
            app.state.readiness_checks = {
                "redis": lambda: redis_ping(redis),
                "kafka": lambda: kafka_metadata_check(settings.kafka_bootstrap_servers),
            }
            yield

    return build_service_app(
        settings=settings,
        title="Taskstream search",
        lifespan=lifespan,
        routers=ROUTERS,
        domain_errors=PROBLEM_STATUSES,
    )
