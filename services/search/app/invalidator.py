"""Drops users' cached searches and task stats by bumping their cache version in Redis."""

import logging
from collections.abc import Iterable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.redis_keys import cache_version

log = logging.getLogger("taskstream.search.invalidator")


class CacheInvalidator:
    """Called only after a commit is visible to readers: an earlier bump would let a search
    on the old index be cached under the new version."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._pending: set[str] = set()

    async def bump(self, owners: Iterable[str]) -> bool:
        """INCR every owner's version; owners whose bump failed are retried on the next call."""
        self._pending.update(owners)
        if not self._pending:
            return True
        users = sorted(self._pending)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for user_id in users:
                    pipe.incr(cache_version(user_id))
                await pipe.execute()
        except (RedisError, OSError):
            log.warning("cache invalidation failed; retrying after the next commit")
            return False
        self._pending.difference_update(users)
        return True

    @property
    def pending(self) -> bool:
        return bool(self._pending)
