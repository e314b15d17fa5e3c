"""The auth service app: ``create_app(settings)``; clients open in the lifespan."""

import asyncio
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager

from argon2 import PasswordHasher
from argon2.profiles import RFC_9106_LOW_MEMORY
from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError
from redis.asyncio import Redis

from services.auth.app.config import Settings
from services.auth.app.errors import PROBLEM_STATUSES
from services.auth.app.keys import KeyRing
from services.auth.app.metrics import AuthMetrics
from services.auth.app.mongo.api_keys import MongoApiKeyStore
from services.auth.app.mongo.capabilities import Capabilities, Document
from services.auth.app.mongo.identities import MongoIdentityStore
from services.auth.app.mongo.sessions import MongoSessionStore
from services.auth.app.mongo.users import MongoUserStore
from services.auth.app.oidc.service import SocialSignIn
from services.auth.app.oidc.setup import open_social_sign_in
from services.auth.app.passwords import PasswordHashing
from services.auth.app.revocation import Revocations
from services.auth.app.routes import ROUTERS
from services.auth.app.service import AuthService
from services.auth.app.throttle import Limits, LoginThrottle
from shared.app import build_service_app
from shared.clients import (
    MongoClient,
    mongo_ping,
    open_mongo,
    open_redis,
    redis_ping,
    run_in_background,
)

log = logging.getLogger("taskstream.auth")
MongoDatabase = AsyncDatabase[Document]


def password_hasher(settings: Settings) -> PasswordHasher:
    return PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
        hash_len=RFC_9106_LOW_MEMORY.hash_len,
        salt_len=RFC_9106_LOW_MEMORY.salt_len,
    )


def build_service(
    settings: Settings,
    *,
    database: MongoDatabase,
    capabilities: Capabilities,
    redis: Redis,
    executor: ThreadPoolExecutor,
    metrics: AuthMetrics,
) -> AuthService:
    keyring = KeyRing(settings.keys_dir, token_ttl=settings.access_token_ttl_seconds)
    keyring.ensure_key()
    return AuthService(
        settings=settings,
        users=MongoUserStore(database),
        sessions=MongoSessionStore(database, capabilities),
        api_keys=MongoApiKeyStore(database, capabilities),
        throttle=LoginThrottle(
            redis,
            limits=Limits(
                per_pair=settings.login_max_failures_per_account,
                per_address=settings.login_max_failures_per_address,
                flood_threshold=settings.login_account_flood_threshold,
            ),
            window_seconds=settings.login_failure_window_seconds,
        ),
        revocations=Revocations(redis, access_token_ttl=settings.access_token_ttl_seconds),
        hashing=PasswordHashing(password_hasher(settings), executor),
        keyring=keyring,
        metrics=metrics,
    )


async def delete_expired_periodically(service: AuthService, interval: float) -> None:
    """Expired sessions and keys are deleted from here, on MongoDB too (decision 0830)."""
    while True:
        try:
            deleted = await service.delete_expired()
            log.info("expired auth records deleted", extra={"deleted": deleted})
        except Exception:  # a store hiccup must not end the loop; the next round retries
            log.warning("clean-up of expired auth records failed", exc_info=True)
        await asyncio.sleep(interval)


async def ensure_indexes_until_done(
    service: AuthService,
    social: SocialSignIn,
    *,
    capabilities: Capabilities,
    mongo: MongoClient,
    retry_seconds: float = 1.0,
) -> None:
    """Let auth start while MongoDB is down; the indexes are made as soon as it answers."""
    while True:
        try:
            await capabilities.detect(mongo)
            await social.identities.ensure_indexes()
            await service.ensure_indexes()
        except PyMongoError as exc:
            log.warning("cannot create indexes yet: %s; retrying", type(exc).__name__)
            await asyncio.sleep(retry_seconds)
        else:
            return


async def mongo_ready(service: AuthService, mongo: MongoClient) -> None:
    service.require_ready()
    await mongo_ping(mongo)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            mongo = await stack.enter_async_context(open_mongo(settings.mongodb_url))
            redis = await stack.enter_async_context(open_redis(settings.redis_url))
            executor = stack.enter_context(
                ThreadPoolExecutor(settings.hashing_threads, thread_name_prefix="argon2")
            )
            database, capabilities = mongo[settings.mongodb_database], Capabilities()
            service = build_service(
                settings,
                database=database,
                capabilities=capabilities,
                redis=redis,
                executor=executor,
                metrics=app.state.auth_metrics,
            )
            app.state.auth = service
            app.state.social = await stack.enter_async_context(
                open_social_sign_in(
                    settings,
                    accounts=service,
                    identities=MongoIdentityStore(database),
                    redis=redis,
                )
            )
            app.state.readiness_checks = {
                "mongodb": lambda: mongo_ready(service, mongo),
                "redis": lambda: redis_ping(redis),
            }
            background = (
                ensure_indexes_until_done(
                    service, app.state.social, capabilities=capabilities, mongo=mongo
                ),
                delete_expired_periodically(service, settings.cleanup_interval_seconds),
            )
            for job in background:
                run_in_background(stack, job)
            yield

    app = build_service_app(
        settings=settings,
        title="Taskstream auth",
        lifespan=lifespan,
        routers=ROUTERS,
        domain_errors=PROBLEM_STATUSES,
    )
    # Made once per app, not per lifespan: a registry refuses the same metric twice.
    app.state.auth_metrics = AuthMetrics(app.state.metrics.registry)
    return app
