"""Cache bumps run beside the projection and outlast a Redis failure."""

import asyncio
from types import TracebackType

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from services.search.app import invalidator as invalidator_module
from services.search.app.invalidator import CacheInvalidator
from shared.redis_keys import cache_version


class FlakyRedis:
    """Stands in for ``redis.asyncio.Redis``: its first pipeline fails as a dropped
    connection does, later ones apply their INCRs."""

    def __init__(self) -> None:
        self.failures_left = 1
        self.incremented: list[str] = []

    def pipeline(self, *, transaction: bool) -> "Pipeline":
        return Pipeline(self)


class Pipeline:
    def __init__(self, redis: FlakyRedis) -> None:
        self.redis = redis
        self.keys: list[str] = []

    async def __aenter__(self) -> "Pipeline":
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def incr(self, key: str) -> None:
        self.keys.append(key)

    async def execute(self) -> None:
        if self.redis.failures_left:
            self.redis.failures_left -= 1
            raise RedisConnectionError("Connection closed by server.")
        self.redis.incremented += self.keys


async def test_a_failed_bump_is_counted_and_retried_until_redis_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(invalidator_module, "RETRY_SECONDS", 0.0)
    redis, failures = FlakyRedis(), []
    invalidator = CacheInvalidator(redis, on_failure=lambda: failures.append(1))  # type: ignore[arg-type]
    worker = asyncio.create_task(invalidator.run())

    invalidator.invalidate(["bob", "alice"])
    for _ in range(100):
        if redis.incremented:
            break
        await asyncio.sleep(0.01)
    worker.cancel()

    assert failures == [1]
    assert redis.incremented == [cache_version("alice"), cache_version("bob")]


class SlowRedis(FlakyRedis):
    """Its first pipeline waits in ``execute`` until released: a bump on the wire."""

    def __init__(self) -> None:
        super().__init__()
        self.failures_left = 0
        self.on_the_wire = asyncio.Event()
        self.release = asyncio.Event()

    def pipeline(self, *, transaction: bool) -> "Pipeline":
        return SlowPipeline(self)


class SlowPipeline(Pipeline):
    redis: SlowRedis

    async def execute(self) -> None:
        if not self.redis.on_the_wire.is_set():
            self.redis.on_the_wire.set()
            await self.redis.release.wait()
        await super().execute()


async def test_a_commit_during_a_bump_gets_a_bump_of_its_own() -> None:
    """The first bump may reach Redis before the second commit is visible; a search in
    between would cache the old index under the new version, so the second commit must
    bump again."""
    redis = SlowRedis()
    invalidator = CacheInvalidator(redis)  # type: ignore[arg-type]
    worker = asyncio.create_task(invalidator.run())

    invalidator.invalidate(["bob"])
    await asyncio.wait_for(redis.on_the_wire.wait(), timeout=1)
    invalidator.invalidate(["bob"])
    redis.release.set()
    for _ in range(100):
        if len(redis.incremented) == 2:
            break
        await asyncio.sleep(0.01)
    worker.cancel()

    assert redis.incremented == [cache_version("bob"), cache_version("bob")]
