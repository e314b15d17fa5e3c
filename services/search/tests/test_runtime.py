"""The runtime keeps projecting through failures; only its own cancellation stops it."""

import asyncio

import pytest
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from services.search.app import runtime as runtime_module
from services.search.app.config import Settings
from services.search.app.consumer import writer_thread
from services.search.app.invalidator import CacheInvalidator
from services.search.app.metrics import ProjectionMetrics
from services.search.app.runtime import SearchRuntime

SECRET = "k" * 8 + "unit-test-signing-key-0123456789"


async def test_a_stray_cancelled_error_does_not_end_the_projection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings(internal_signing_secret=SECRET)
    redis = Redis.from_url(settings.redis_url)
    runtime = SearchRuntime(
        settings=settings,
        metrics=ProjectionMetrics(CollectorRegistry()),
        invalidator=CacheInvalidator(redis),
        writer=writer_thread(),
    )
    attempts = 0

    async def run_once() -> None:
        # aiokafka's consumer.stop() lets such an error escape when the broker has gone away.
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise asyncio.CancelledError
        await asyncio.sleep(3600)

    monkeypatch.setattr(runtime, "run_once", run_once)
    monkeypatch.setattr(runtime_module, "RETRY_SECONDS", 0.0)
    task = asyncio.create_task(runtime.run())
    await asyncio.sleep(0.05)
    assert attempts == 2
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await redis.aclose()
