"""Waiting on a condition instead of sleeping and hoping: poll until it holds, or fail.

A probe answers either ``done`` or ``(done, what it saw)``; the last thing seen is in the
failure message. Both waiters return how long the condition took to hold.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable

Observation = tuple[bool, object]
Probe = Callable[[], Awaitable[bool | Observation]]
SyncProbe = Callable[[], bool | Observation]


def _unpack(answer: bool | Observation) -> Observation:
    return answer if isinstance(answer, tuple) else (answer, answer)


async def eventually(probe: Probe, *, within: float, interval: float = 0.1) -> float:
    """Await ``probe`` every ``interval`` s until it is done; fail after ``within`` s."""
    started = time.monotonic()
    while True:
        done, seen = _unpack(await probe())
        if done:
            return time.monotonic() - started
        if time.monotonic() - started > within:
            raise AssertionError(f"condition not met within {within}s; last seen: {seen!r}")
        await asyncio.sleep(interval)


def eventually_sync(probe: SyncProbe, *, within: float, interval: float = 0.05) -> float:
    """``eventually`` for code with no event loop (fixtures that start processes, say)."""
    started = time.monotonic()
    while True:
        done, seen = _unpack(probe())
        if done:
            return time.monotonic() - started
        if time.monotonic() - started > within:
            raise AssertionError(f"condition not met within {within}s; last seen: {seen!r}")
        time.sleep(interval)
