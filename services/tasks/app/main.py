"""The tasks service app: ``create_app(settings)``; clients open in the lifespan."""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from services.tasks.app.config import Settings
from services.tasks.app.errors import PROBLEM_STATUSES
from services.tasks.app.routes import ROUTERS
from shared.app import build_service_app
from shared.clients import kafka_metadata_check, mongo_ping, open_mongo, open_redis, redis_ping


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            mongo = await stack.enter_async_context(open_mongo(settings.mongodb_url))
            redis = await stack.enter_async_context(open_redis(settings.redis_url))
            app.state.readiness_checks = {
                "mongodb": lambda: mongo_ping(mongo),
                "redis": lambda: redis_ping(redis),
                "kafka": lambda: kafka_metadata_check(settings.kafka_bootstrap_servers),
            }
            yield

    return build_service_app(
        settings=settings,
        title="Taskstream tasks",
        lifespan=lifespan,
        routers=ROUTERS,
        domain_errors=PROBLEM_STATUSES,
    )
