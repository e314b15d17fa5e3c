"""A cached page is served only under the cache version it was searched under."""

from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson

from services.search.app.index import TaskIndex
from services.search.app.schemas import SearchParams
from services.search.app.service import params_digest, read_cache, search_tasks
from services.search.tests.factories import task_event
from shared.redis_keys import cache_version, search_cache


class FakeRedis:
    """Stands in for ``redis.asyncio.Redis``'s MGET over a dict."""

    def __init__(self, values: dict[str, bytes]) -> None:
        self.values = values

    async def mget(self, *keys: str) -> list[bytes | None]:
        return [self.values.get(key) for key in keys]

    async def set(self, key: str, value: bytes, ex: int) -> None:
        self.values[key] = value


class Later:
    """Records jobs like FastAPI's ``BackgroundTasks``; ``run`` is "after the answer"."""

    def __init__(self) -> None:
        self.jobs: list[tuple[Callable[..., Awaitable[None]], tuple[object, ...]]] = []

    def add_task(
        self, func: Callable[..., Awaitable[None]], *args: object, **kwargs: object
    ) -> None:
        assert not kwargs
        self.jobs.append((func, args))

    async def run(self) -> None:
        for func, args in self.jobs:
            await func(*args)


async def test_a_page_from_an_older_version_is_a_miss_and_the_current_one_a_hit() -> None:
    key = search_cache("alice", "digest")
    entry = orjson.dumps({"version": 3, "page": {"items": [], "total": 0}})
    redis = FakeRedis({cache_version("alice"): b"4", key: entry})

    assert await read_cache(redis, owner_id="alice", key=key) == (4, None)  # type: ignore[arg-type]
    redis.values[cache_version("alice")] = b"3"
    hit = await read_cache(redis, owner_id="alice", key=key)  # type: ignore[arg-type]
    assert hit == (3, {"items": [], "total": 0})


async def test_a_fresh_page_is_cached_after_the_answer_under_the_version_read_before(
    tmp_path: Path,
) -> None:
    index = TaskIndex.create(tmp_path / "index", topic="events", heap_bytes=15_000_000)
    index.stage(partition=0, offset=0, event=task_event("milk", title="Buy milk"))
    index.commit()
    redis, later = FakeRedis({cache_version("alice"): b"7"}), Later()
    params = SearchParams(q="milk")
    key = search_cache("alice", params_digest(params))

    page = await search_tasks(
        index=index,
        redis=redis,  # type: ignore[arg-type]
        owner_id="alice",
        params=params,
        ttl_seconds=60,
        later=later,
    )

    assert [item["task"]["id"] for item in page["items"]] == ["milk"]
    assert key not in redis.values  # the answer does not wait for the cache write
    await later.run()
    assert orjson.loads(redis.values[key]) == {"version": 7, "page": page}
