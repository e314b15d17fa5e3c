"""Domain logic of the search service (no HTTP here): search one user's tasks, cached."""

import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.search.app.highlight import Highlighter
from services.search.app.index import TaskIndex
from services.search.app.query import SearchFilters, build_query, query_words
from services.search.app.schemas import SearchParams
from shared.redis_keys import cache_version, search_cache

log = logging.getLogger("taskstream.search.service")
Page = dict[str, Any]


def run_search(
    index: TaskIndex, *, owner_id: str, params: SearchParams, prefix_last_word: bool = True
) -> Page:
    """Blocking: one engine query, the page's stored tasks and their highlights."""
    words = query_words(index.analyzer, params.q)
    filters = SearchFilters(
        owner_id=owner_id, status=params.status, priority=params.priority, tag=params.tag
    )
    searcher = index.searcher()
    query = build_query(
        index.schema, words=words, filters=filters, prefix_last_word=prefix_last_word
    )
    result = searcher.search(query, limit=params.limit, offset=params.offset, count=True)
    tasks = [orjson.loads(searcher.doc(address)["payload"][0]) for _, address in result.hits]
    texts = [
        text for task in tasks for text in ((task["title"], True), (task["description"], False))
    ]
    marks = Highlighter(index.analyzer, words).highlight(texts)
    items = [
        {"task": task, "score": score, "highlights": highlights(title, description)}
        for task, (score, _), title, description in zip(
            tasks, result.hits, marks[::2], marks[1::2], strict=True
        )
    ]
    return {"items": items, "total": result.count}


def highlights(title: str | None, description: str | None) -> dict[str, str]:
    marked = {"title": title, "description": description}
    return {field: text for field, text in marked.items() if text is not None}


def params_digest(params: SearchParams, *, prefix_last_word: bool = True) -> str:
    """The cache key's part for this query (a page searched without prefixes is another)."""
    query = params.model_dump(mode="json") | ({} if prefix_last_word else {"prefix": False})
    return hashlib.sha256(orjson.dumps(query)).hexdigest()[:32]


class Later(Protocol):
    """Runs a job after the answer is sent (FastAPI's ``BackgroundTasks`` is one)."""

    def add_task(
        self, func: Callable[..., Awaitable[None]], *args: object, **kwargs: object
    ) -> None: ...


async def search_tasks(
    *,
    index: TaskIndex,
    redis: Redis,
    owner_id: str,
    params: SearchParams,
    ttl_seconds: int,
    later: Later,
    prefix_last_word: bool = True,
) -> Page:
    """The page from the cache, else from the index. A fresh page is cached after the answer
    has gone (the caller does not wait for that write): it is stored under the version read
    before searching, so a commit that lands meanwhile still makes it unservable."""
    key = search_cache(owner_id, params_digest(params, prefix_last_word=prefix_last_word))
    version, cached = await read_cache(redis, owner_id=owner_id, key=key)
    if cached is not None:
        return cached
    # On the event loop, not a worker thread: most of a search holds the GIL anyway, and the
    # hand-overs cost more than they saved (docs/decisions/0832). Commits keep their thread.
    page = run_search(index, owner_id=owner_id, params=params, prefix_last_word=prefix_last_word)
    if version is not None:
        later.add_task(write_cache, redis, key, {"version": version, "page": page}, ttl_seconds)
    return page


async def read_cache(redis: Redis, *, owner_id: str, key: str) -> tuple[int | None, Page | None]:
    """The user's cache version and the page cached under that very version, in one round
    trip, read BEFORE searching: a commit that lands meanwhile bumps the version, so a result
    it made stale is never served again. (None, None) when Redis is unavailable."""
    try:
        current, entry = await redis.mget(cache_version(owner_id), key)
    except RedisError:
        log.warning("search cache unavailable; answering from the index")
        return None, None
    version = int(current or 0)
    cached = orjson.loads(entry) if entry else None
    if cached is None or cached["version"] != version:
        return version, None
    page: Page = cached["page"]
    return version, page


async def write_cache(redis: Redis, key: str, entry: Page, ttl_seconds: int) -> None:
    try:
        await redis.set(key, orjson.dumps(entry), ex=ttl_seconds)
    except RedisError:
        log.warning("could not cache a search result")
