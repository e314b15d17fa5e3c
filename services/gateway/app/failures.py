"""Invalid credentials counted per client address, refused before any lookup past a limit.

Each failure (a bad or revoked token, an unknown API key) increments a counter in Redis, one
window per address bucket (``shared.addresses``: IPv6 per /64), so every gateway process sees
the same count. The answer is remembered here: once an address is over the limit, its
requests get 429 from memory, with no Redis call and no question to auth. While Redis is down
the count is kept in this process only.

API keys the gateway has not resolved yet are asked of auth; such lookups in flight count
toward the limit too, so a burst of random keys sent at once cannot slip past it.
"""

import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.gateway.app.errors import CredentialsThrottled
from services.gateway.app.metrics import GatewayMetrics

Clock = Callable[[], float]
MAX_TRACKED_ADDRESSES = 100_000


def failure_key(bucket: str) -> str:
    return f"gateway:badcred:{bucket}"


class InvalidCredentialThrottle:
    def __init__(
        self,
        redis: Redis,
        metrics: GatewayMetrics,
        *,
        limit: int,
        window_seconds: int,
        clock: Clock = time.monotonic,
    ) -> None:
        self._redis = redis
        self._metrics = metrics
        self._limit = limit
        self._window = window_seconds
        self._clock = clock
        self._counts: dict[str, tuple[int, float]] = {}  # bucket -> (failures, window ends)
        self._inflight: dict[str, int] = {}

    def check(self, bucket: str) -> None:
        """Raise ``CredentialsThrottled`` while ``bucket`` is over the limit."""
        count, until = self._known(bucket)
        if count >= self._limit:
            self._refuse(until)

    @asynccontextmanager
    async def lookup(self, bucket: str) -> AsyncIterator[None]:
        """Around a question to auth about a credential this address presented."""
        count, until = self._known(bucket)
        pending = self._inflight.get(bucket, 0)
        if count + pending >= self._limit:
            self._refuse(until)
        self._inflight[bucket] = pending + 1
        try:
            yield
        finally:
            left = self._inflight[bucket] - 1
            if left:
                self._inflight[bucket] = left
            else:
                del self._inflight[bucket]

    async def failed(self, bucket: str) -> None:
        try:
            count, ttl_ms = await self._count_in_redis(bucket)
        except (RedisError, OSError):
            count, ttl_ms = self._count_in_memory(bucket)
        if len(self._counts) >= MAX_TRACKED_ADDRESSES:
            now = self._clock()
            self._counts = {b: entry for b, entry in self._counts.items() if entry[1] > now}
        self._counts[bucket] = (count, self._clock() + max(ttl_ms, 1000) / 1000)

    async def _count_in_redis(self, bucket: str) -> tuple[int, int]:
        key = failure_key(bucket)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, self._window, nx=True)
            pipe.pttl(key)
            count, _, ttl_ms = await pipe.execute()
        return int(count), int(ttl_ms)

    def _count_in_memory(self, bucket: str) -> tuple[int, int]:
        count, until = self._known(bucket)
        if count == 0:
            until = self._clock() + self._window
        return count + 1, int((until - self._clock()) * 1000)

    def _known(self, bucket: str) -> tuple[int, float]:
        count, until = self._counts.get(bucket, (0, 0.0))
        return (count, until) if until > self._clock() else (0, 0.0)

    def _refuse(self, until: float) -> None:
        self._metrics.rate_limited.labels("invalid_credentials").inc()
        retry_after = max(1, math.ceil(until - self._clock()))
        raise CredentialsThrottled(retry_after=retry_after)
