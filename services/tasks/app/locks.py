"""Per-task locks inside one process.

FerretDB v1 runs an update as read, modify, write without a lock, so two updates of one
document can interleave and one is lost. Writers and the relay of a process therefore take
the task's lock around every read-then-write of a task document. (MongoDB's conditional
updates are atomic on their own; there the lock only saves retries.)
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class KeyedLocks:
    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if self._users[key] == 0:
                # Nobody waits for it any more: drop it so the map stays as small as the load.
                del self._users[key], self._locks[key]

    def __len__(self) -> int:
        return len(self._locks)
