"""The gateway service app: ``create_app(settings)``; clients open in the lifespan."""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from services.gateway.app.config import Settings
from services.gateway.app.errors import PROBLEM_STATUSES
from services.gateway.app.routes import ROUTERS
from shared.app import build_service_app
from shared.clients import open_redis, redis_ping


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            redis = await stack.enter_async_context(open_redis(settings.redis_url))
            app.state.readiness_checks = {
                "redis": lambda: redis_ping(redis),
            }
            yield

    return build_service_app(
        settings=settings,
        title="Taskstream gateway",
        lifespan=lifespan,
        routers=ROUTERS,
        domain_errors=PROBLEM_STATUSES,
    )
