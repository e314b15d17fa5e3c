"""A cached page is served only under the cache version it was searched under."""

import orjson

from services.search.app.service import read_cache
from shared.redis_keys import cache_version, search_cache


class FakeRedis:
    """Stands in for ``redis.asyncio.Redis``'s MGET over a dict."""

    def __init__(self, values: dict[str, bytes]) -> None:
        self.values = values

    async def mget(self, *keys: str) -> list[bytes | None]:
        return [self.values.get(key) for key in keys]


async def test_a_page_from_an_older_version_is_a_miss_and_the_current_one_a_hit() -> None:
    key = search_cache("alice", "digest")
    entry = orjson.dumps({"version": 3, "page": {"items": [], "total": 0}})
    redis = FakeRedis({cache_version("alice"): b"4", key: entry})

    assert await read_cache(redis, owner_id="alice", key=key) == (4, None)  # type: ignore[arg-type]
    redis.values[cache_version("alice")] = b"3"
    hit = await read_cache(redis, owner_id="alice", key=key)  # type: ignore[arg-type]
    assert hit == (3, {"items": [], "total": 0})
