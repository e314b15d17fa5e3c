"""The search service app: ``create_app(settings)``; clients and the projection start in the
lifespan."""

import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from services.search.app.allocator import retain_freed_memory
from services.search.app.config import Settings
from services.search.app.consumer import writer_thread
from services.search.app.errors import PROBLEM_STATUSES
from services.search.app.invalidator import CacheInvalidator
from services.search.app.metrics import ProjectionMetrics
from services.search.app.routes import ROUTERS
from services.search.app.runtime import SearchRuntime
from shared.app import build_service_app
from shared.clients import kafka_metadata_check, open_redis, redis_ping, run_in_background
from shared.consistency import ConsistencyTokens
from shared.flags import open_flags


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        retain_freed_memory()
        sys.setswitchinterval(settings.gil_switch_interval_ms / 1000)
        async with AsyncExitStack() as stack:
            redis = await stack.enter_async_context(open_redis(settings.redis_url))
            metrics = ProjectionMetrics(app.state.metrics.registry)
            invalidator = CacheInvalidator(redis, on_failure=metrics.invalidation_failures.inc)
            run_in_background(stack, invalidator.run())
            runtime = SearchRuntime(
                settings=settings,
                metrics=metrics,
                invalidator=invalidator,
                # Shut down (after the projection below is cancelled) when the app stops.
                writer=stack.enter_context(writer_thread()),
            )
            app.state.redis = redis
            app.state.flags = stack.enter_context(open_flags(settings, domain=f"search-{id(app)}"))
            app.state.runtime = runtime
            app.state.consistency_tokens = ConsistencyTokens(
                settings.internal_signing_secret.get_secret_value()
            )
            run_in_background(stack, runtime.run())
            app.state.readiness_checks = {
                "redis": lambda: redis_ping(redis),
                "kafka": lambda: kafka_metadata_check(settings.kafka_bootstrap_servers),
                "index": runtime.check_ready,
            }
            yield

    return build_service_app(
        settings=settings,
        title="Taskstream search",
        lifespan=lifespan,
        routers=ROUTERS,
        domain_errors=PROBLEM_STATUSES,
    )
