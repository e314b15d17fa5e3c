"""Task statistics, cache-aside in Redis under the user's cache version.

The search service's invalidator bumps ``cache_version(user)`` after an index commit with the
user's change; our own writes also drop the current entry, so a user sees their write at
once. The cache is an optimisation only: when Redis fails, stats come from MongoDB.
"""

import logging
from datetime import UTC, datetime
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.tasks.app.schemas import StatusCounts, TaskStats
from services.tasks.app.store import TaskStore
from shared.redis_keys import cache_version, stats_cache

log = logging.getLogger("taskstream.tasks.stats")


async def count_stats(store: TaskStore, *, owner_id: str) -> TaskStats:
    counts = await store.count_by_status(owner_id=owner_id)
    overdue = await store.count_overdue(owner_id=owner_id, now=datetime.now(UTC))
    by_status = StatusCounts.model_validate(counts)
    total = by_status.todo + by_status.in_progress + by_status.done
    return TaskStats(total=total, by_status=by_status, overdue=overdue)


class TaskStatsCache(Protocol):
    async def get_or_count(self, store: TaskStore, *, owner_id: str) -> TaskStats: ...

    async def forget(self, owner_id: str) -> None: ...


class StatsCache:
    def __init__(self, redis: Redis, *, ttl_seconds: int) -> None:
        self._redis = redis
        self._ttl = ttl_seconds

    async def _key(self, owner_id: str) -> str:
        version = await self._redis.get(cache_version(owner_id))
        return stats_cache(owner_id, int(version or 0))

    async def get_or_count(self, store: TaskStore, *, owner_id: str) -> TaskStats:
        try:
            key = await self._key(owner_id)
            cached = await self._redis.get(key)
        except RedisError as exc:
            log.warning("stats cache unavailable", extra={"error": type(exc).__name__})
            return await count_stats(store, owner_id=owner_id)
        if cached is not None:
            return TaskStats.model_validate_json(cached)
        stats = await count_stats(store, owner_id=owner_id)
        try:
            await self._redis.set(key, stats.model_dump_json(), ex=self._ttl)
        except RedisError as exc:
            log.warning("stats cache not written", extra={"error": type(exc).__name__})
        return stats

    async def forget(self, owner_id: str) -> None:
        """Drop the user's current entry after a write; best effort, the TTL is the backstop."""
        try:
            await self._redis.delete(await self._key(owner_id))
        except RedisError as exc:
            log.warning("stats cache not cleared", extra={"error": type(exc).__name__})
