"""The tasks service app: ``create_app(settings)``; clients open in the lifespan."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from prometheus_client import Gauge
from pymongo.asynchronous.database import AsyncDatabase
from redis.asyncio import Redis

from services.tasks.app.config import Settings
from services.tasks.app.errors import PROBLEM_STATUSES
from services.tasks.app.idempotency import (
    IdempotencyMiddleware,
    MongoIdempotencyStore,
    forget_expired_keys,
)
from services.tasks.app.live import LiveEvents
from services.tasks.app.mongo_store import Capabilities, MongoTaskStore
from services.tasks.app.outbox import OutboxRelay
from services.tasks.app.routes import ROUTERS
from services.tasks.app.service import TaskService
from services.tasks.app.stats import StatsCache
from shared.app import build_service_app
from shared.clients import mongo_ping, open_mongo, open_redis, run_in_background
from shared.consistency import ConsistencyTokens

COLLECTION = "tasks"
IDEMPOTENCY_COLLECTION = "idempotency_keys"


async def relay_alive(relay_task: "asyncio.Task[None]") -> None:
    if relay_task.done():
        raise RuntimeError("the outbox relay stopped")


def start_client_features(
    stack: AsyncExitStack,
    app: FastAPI,
    *,
    settings: Settings,
    database: AsyncDatabase[dict[str, object]],
    redis: Redis,
) -> None:
    """What clients get besides the tasks themselves: idempotent retries, consistency tokens
    for search, and the live event stream."""
    idempotency = MongoIdempotencyStore(database[IDEMPOTENCY_COLLECTION])
    run_in_background(stack, forget_expired_keys(idempotency), name="idempotency-expiry")
    live = LiveEvents(
        bootstrap=settings.kafka_bootstrap_servers,
        topic=settings.task_events_topic,
        buffer_events=settings.live_buffer_events,
    )
    run_in_background(stack, live.run(), name="live-events")
    Gauge(
        "tasks_live_streams_open",
        "Open live event streams on this replica.",
        registry=app.state.metrics.registry,
    ).set_function(lambda: live.open_streams)
    app.state.idempotency = idempotency
    app.state.live_events = live
    app.state.redis = redis
    app.state.consistency_tokens = ConsistencyTokens(
        settings.internal_signing_secret.get_secret_value()
    )


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
            database = mongo[settings.mongodb_database]
            store = MongoTaskStore(database[COLLECTION], await Capabilities.of(database))
            await store.ensure_indexes()
            relay = OutboxRelay(store=store, settings=settings, registry=app.state.metrics.registry)
            # Kafka may be down: the relay connects in the background and writes go on meanwhile.
            relay_task = run_in_background(stack, relay.run(), name="outbox-relay")
            app.state.task_service = TaskService(
                store=store,
                stats=StatsCache(redis, ttl_seconds=settings.stats_cache_ttl_seconds),
                notify_outbox=relay.notify,
                cursor_key=settings.cursor_key(),
            )
            start_client_features(stack, app, settings=settings, database=database, redis=redis)
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
