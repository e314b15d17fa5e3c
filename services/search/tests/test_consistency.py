"""Waiting for a write: answered at once when indexed, on the commit that brings it, or never
past the deadline."""

import asyncio
from typing import cast

from services.search.app.consistency import CommitSignal, wait_for_write
from services.search.app.index import TaskIndex
from shared.consistency import WrittenVersion


class FakeIndex:
    """Only what waiting reads: the committed version of each task."""

    def __init__(self) -> None:
        self.versions: dict[str, int] = {}

    def committed_version(self, task_id: str) -> int | None:
        return self.versions.get(task_id)


async def waiting(
    index: FakeIndex, commits: CommitSignal, written: WrittenVersion, wait_s: float
) -> bool:
    return await wait_for_write(
        written, index=lambda: cast(TaskIndex, index), commits=commits, timeout_seconds=wait_s
    )


async def test_an_indexed_or_newer_version_answers_at_once() -> None:
    index, commits = FakeIndex(), CommitSignal()
    index.versions["t"] = 3
    assert await waiting(index, commits, WrittenVersion("t", 3), 0)
    assert await waiting(index, commits, WrittenVersion("t", 2), 0)


async def test_the_commit_that_brings_the_write_ends_the_wait() -> None:
    index, commits = FakeIndex(), CommitSignal()
    waiter = asyncio.create_task(waiting(index, commits, WrittenVersion("t", 2), 5))
    await asyncio.sleep(0.01)
    index.versions["t"] = 1
    commits.notify()  # a commit of an older version: still waiting
    await asyncio.sleep(0.01)
    assert not waiter.done()
    index.versions["t"] = 2
    commits.notify()
    assert await asyncio.wait_for(waiter, 1)


async def test_a_write_never_indexed_gives_up_at_the_deadline() -> None:
    index, commits = FakeIndex(), CommitSignal()
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert not await waiting(index, commits, WrittenVersion("t", 1), 0.05)
    assert 0.05 <= loop.time() - started < 1
