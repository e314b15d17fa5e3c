"""Read your own writes: wait, bounded, until this replica has indexed a write.

A task write's consistency token names a task and the version the write produced. A search
that presents it is answered once this replica's index holds that version (or a later one:
deletes and newer edits count too), or when the wait runs out, from what the index has.
"""

import asyncio
from collections.abc import Callable

from services.search.app.index import TaskIndex
from shared.consistency import WrittenVersion


class CommitSignal:
    """Wakes everyone waiting for the next index commit."""

    def __init__(self) -> None:
        self._next = asyncio.Event()

    def next_commit(self) -> asyncio.Event:
        """Taken before looking at the index, so a commit in between is never missed."""
        return self._next

    def notify(self) -> None:
        done, self._next = self._next, asyncio.Event()
        done.set()


async def wait_for_write(
    written: WrittenVersion,
    *,
    index: Callable[[], TaskIndex],
    commits: CommitSignal,
    timeout_seconds: float,
) -> bool:
    """True once the active index holds ``written``; False if the wait ran out first."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_seconds
    while True:
        commit = commits.next_commit()
        known = index().committed_version(written.task_id)
        if known is not None and known >= written.version:
            return True
        remaining = deadline - loop.time()
        if remaining <= 0:
            return False
        try:
            await asyncio.wait_for(commit.wait(), remaining)
        except TimeoutError:
            return False
