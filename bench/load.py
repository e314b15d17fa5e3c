"""Closed-loop load from inside the bench process: N workers repeating one operation."""

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine


async def closed_loop(
    operation: Callable[[], Awaitable[object]], *, workers: int, seconds: float
) -> tuple[list[float], float]:
    """Run ``operation`` back to back in ``workers`` tasks; durations (s) and operations/s."""
    durations: list[float] = []
    started = time.perf_counter()
    deadline = started + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            begun = time.perf_counter()
            await operation()
            durations.append(time.perf_counter() - begun)

    await asyncio.gather(*(worker() for _ in range(workers)))
    return durations, len(durations) / (time.perf_counter() - started)


async def paced(
    operation: Callable[[int], Coroutine[object, None, object]], *, rate: float, seconds: float
) -> list[object]:
    """Start ``operation(i)`` at a fixed rate whatever its latency (an open loop)."""
    started = time.perf_counter()
    running: list[asyncio.Task[object]] = []
    for number in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, started + number / rate - time.perf_counter()))
        running.append(asyncio.create_task(operation(number)))
    return list(await asyncio.gather(*running))
