"""``gather_bounded``: at most ``STORE_CONCURRENCY`` calls at once, each made only with a slot."""

import asyncio
from collections.abc import Awaitable, Callable

from services.tasks.app.bounded import STORE_CONCURRENCY, gather_bounded


async def test_results_come_in_order_and_no_more_than_the_bound_run_at_once() -> None:
    running = 0
    most = 0

    def call(number: int) -> Callable[[], Awaitable[int]]:
        async def run() -> int:
            nonlocal running, most
            running += 1
            most = max(most, running)
            await asyncio.sleep(0)
            running -= 1
            return number

        return run

    assert await gather_bounded([call(n) for n in range(50)]) == list(range(50))
    assert most == STORE_CONCURRENCY


async def test_calls_still_waiting_for_a_slot_when_cancelled_are_never_made() -> None:
    made: list[int] = []
    release = asyncio.Event()

    def call(number: int) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            made.append(number)
            await release.wait()

        return run

    gathering = asyncio.ensure_future(gather_bounded([call(n) for n in range(40)]))
    await asyncio.sleep(0.01)
    gathering.cancel()
    await asyncio.gather(gathering, return_exceptions=True)

    # Made before, these would have been coroutines nobody awaited ("never awaited" warnings
    # in the service's log at shutdown).
    assert made == list(range(STORE_CONCURRENCY))
