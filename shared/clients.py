"""Opening and closing the clients services share: MongoDB, Redis, Kafka.

Each opener is an async context manager meant for a service lifespan's ``AsyncExitStack``.
Timeouts are short on purpose: an unavailable store should become a quick 503, not a hang.
"""

import asyncio
from collections.abc import AsyncIterator, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from typing import Any

from aiokafka.client import AIOKafkaClient
from pymongo import AsyncMongoClient
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

MongoClient = AsyncMongoClient[dict[str, Any]]

REDIS_RETRIES = 2


@asynccontextmanager
async def open_mongo(
    url: str,
    *,
    max_pool_size: int = 100,
    min_pool_size: int = 0,
    timeout_ms: int = 2000,
) -> AsyncIterator[MongoClient]:
    client: MongoClient = AsyncMongoClient(
        url,
        maxPoolSize=max_pool_size,
        minPoolSize=min_pool_size,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=max(timeout_ms * 5, 10_000),
        tz_aware=True,
        appname="taskstream",
    )
    try:
        yield client
    finally:
        await client.close()


async def mongo_ping(client: MongoClient) -> None:
    await client.admin.command("ping")


async def server_is_ferretdb(client: MongoClient) -> bool:
    """FerretDB answers ``buildInfo`` with its own version next to the one it emulates."""
    info = await client.admin.command("buildInfo")
    return "ferretdbVersion" in info


@asynccontextmanager
async def open_redis(url: str, *, timeout_s: float = 1.0) -> AsyncIterator["Redis"]:
    client: Redis = Redis.from_url(
        url,
        socket_connect_timeout=timeout_s,
        socket_timeout=timeout_s,
        health_check_interval=15,
        decode_responses=False,
        # After a Redis restart every pooled connection is dead, and without this the first
        # command on each one fails ("Connection closed by server"): retry it at once on a
        # fresh connection. Sent on a connection the restart killed, it never reached Redis.
        retry=Retry(ExponentialBackoff(cap=0.1, base=0.01), REDIS_RETRIES),
        retry_on_error=[RedisConnectionError],
    )
    try:
        yield client
    finally:
        await client.aclose()


async def redis_ping(client: "Redis") -> None:
    await client.ping()


async def kafka_metadata_check(bootstrap_servers: str, *, timeout_ms: int = 2000) -> None:
    """A real metadata round trip with a short-lived client; raises if no broker answers."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=timeout_ms)
    try:
        await client.bootstrap()
        if not client.cluster.brokers():
            raise ConnectionError("Kafka answered with no brokers")
    finally:
        await client.close()


def run_in_background(
    stack: AsyncExitStack, job: Coroutine[Any, Any, None], *, name: str | None = None
) -> "asyncio.Task[None]":
    """Start a lifespan-long task that is cancelled and awaited when the stack closes."""
    task = asyncio.create_task(job, name=name)
    stack.push_async_callback(_cancel_and_wait, task)
    return task


async def _cancel_and_wait(task: "asyncio.Task[None]") -> None:
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task
