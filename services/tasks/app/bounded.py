"""``asyncio.gather`` with a bound on how many calls run at once."""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
STORE_CONCURRENCY = 16


async def gather_bounded(calls: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
    """At most ``STORE_CONCURRENCY`` at once: a sweep can queue a thousand tasks, and a
    thousand concurrent lookups would open a connection each. Each call is made only once it
    has a slot: a coroutine made earlier and cancelled while waiting for one (at shutdown)
    would never be awaited."""
    limit = asyncio.Semaphore(STORE_CONCURRENCY)

    async def bounded(call: Callable[[], Awaitable[T]]) -> T:
        async with limit:
            return await call()

    return await asyncio.gather(*(bounded(call) for call in calls))
