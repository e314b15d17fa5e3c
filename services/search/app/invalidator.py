"""Drops users' cached searches and task stats by bumping their cache version in Redis."""

import asyncio
import logging
from collections.abc import Callable, Iterable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.redis_keys import cache_version

log = logging.getLogger("taskstream.search.invalidator")
RETRY_SECONDS = 0.5


class CacheInvalidator:
    """Told only after a commit is visible to readers: an earlier bump would let a search on
    the old index be cached under the new version. Bumps run on a task of their own (``run``),
    so the next commit never waits for Redis; users whose bump failed stay pending and are
    retried shortly."""

    def __init__(self, redis: Redis, *, on_failure: Callable[[], None] = lambda: None) -> None:
        self._redis = redis
        self._on_failure = on_failure
        self._pending: set[str] = set()
        self._wake = asyncio.Event()

    def invalidate(self, owners: Iterable[str]) -> None:
        """Schedule a bump of these users' cache versions; returns at once."""
        self._pending.update(owners)
        if self._pending:
            self._wake.set()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not await self.bump_pending():
                self._on_failure()
                await asyncio.sleep(RETRY_SECONDS)
                self._wake.set()

    async def bump_pending(self) -> bool:
        """INCR every pending user's version; False (and still pending) if Redis failed.

        The pending set is taken before the round trip: a user a later commit adds meanwhile
        stays pending for the next bump, since this one may reach Redis before that commit
        is visible."""
        users, self._pending = self._pending, set()
        if not users:
            return True
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for user_id in sorted(users):
                    pipe.incr(cache_version(user_id))
                await pipe.execute()
        except (RedisError, OSError):
            log.warning("cache invalidation failed; retrying in %.1f s", RETRY_SECONDS)
            self._pending |= users
            return False
        return True
