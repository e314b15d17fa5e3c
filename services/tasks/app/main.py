"""The tasks service app: ``create_app(settings)``; clients open in the lifespan."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from services.tasks.app.config import Settings
from services.tasks.app.errors import PROBLEM_STATUSES
from services.tasks.app.idempotency import (
    IdempotencyMiddleware,
    MongoIdempotencyStore,
    forget_expired_keys,
)
from services.tasks.app.live import LiveEvents
from services.tasks.app.locks import KeyedLocks
from services.tasks.app.outbox import OutboxRelay
from services.tasks.app.routes import ROUTERS
from services.tasks.app.service import TaskService, ensure_indexes
from services.tasks.app.stats import StatsCache
from shared.app import build_service_app
from shared.clients import MongoClient, mongo_ping, open_mongo, open_redis, run_in_background
from shared.consistency import ConsistencyTokens

COLLECTION = "tasks"
IDEMPOTENCY_COLLECTION = "idempotency_keys"


async def is_ferretdb(mongo: MongoClient) -> bool:
    """FerretDB answers ``buildInfo`` with its own version next to the MongoDB one it emulates."""
    info = await mongo.admin.command("buildInfo")
    return "ferretdbVersion" in info


async def relay_alive(relay_task: "asyncio.Task[None]") -> None:
    if relay_task.done():
        raise RuntimeError("the outbox relay stopped")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            mongo = await stack.enter_async_context(
                open_mongo(
                    settings.mongodb_url,
                    max_pool_size=settings.mongo_max_pool_size,
                    min_pool_size=settings.mongo_min_pool_size,
                    timeout_ms=settings.mongo_timeout_ms,
                )
            )
            redis = await stack.enter_async_context(open_redis(settings.redis_url))
            tasks = mongo[settings.mongodb_database][COLLECTION]
            await ensure_indexes(tasks)
            locks = KeyedLocks()
            relay = OutboxRelay(
                tasks=tasks, locks=locks, settings=settings, registry=app.state.metrics.registry
            )
            # Kafka may be down: the relay connects in the background and writes go on meanwhile.
            relay_task = run_in_background(stack, relay.run(), name="outbox-relay")
            app.state.task_service = TaskService(
                tasks=tasks,
                stats=StatsCache(redis, ttl_seconds=settings.stats_cache_ttl_seconds),
                locks=locks,
                notify_outbox=relay.notify,
                cursor_key=settings.cursor_key(),
                compare_and_set=not await is_ferretdb(mongo),
            )
            idempotency = MongoIdempotencyStore(
                mongo[settings.mongodb_database][IDEMPOTENCY_COLLECTION]
            )
            app.state.idempotency = idempotency
            app.state.redis = redis
            live = LiveEvents(
                bootstrap=settings.kafka_bootstrap_servers,
                topic=settings.task_events_topic,
                buffer_events=settings.live_buffer_events,
            )
            app.state.live_events = live
            run_in_background(stack, live.run(), name="live-events")
            run_in_background(stack, forget_expired_keys(idempotency), name="idempotency-expiry")
            app.state.consistency_tokens = ConsistencyTokens(
                settings.internal_signing_secret.get_secret_value()
            )
            # Only MongoDB is needed to serve: Kafka outages delay events, Redis ones caching.
            app.state.readiness_checks = {
                "mongodb": lambda: mongo_ping(mongo),
                "outbox": lambda: relay_alive(relay_task),
            }
            yield

    return build_service_app(
        settings=settings,
        title="Taskstream tasks",
        lifespan=lifespan,
        routers=ROUTERS,
        domain_errors=PROBLEM_STATUSES,
        middleware=[IdempotencyMiddleware],
    )
