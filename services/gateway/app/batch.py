"""Guard checks of concurrent requests share one Redis round trip (a pipeline).

Each check is still its own atomic script run in Redis (the pipeline is no transaction);
only the trip is shared. A check waits at most one turn of the event loop for others to
join it. Measured in docs/decisions/0910-gateway-edge-speed.md.
"""

import asyncio
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

Pending = tuple[Sequence[str], Sequence[Any], "asyncio.Future[Any]"]


class ScriptBatch:
    """Runs one Lua script for many callers, batching the calls made in the same loop turn."""

    def __init__(self, redis: Redis, script: str) -> None:
        self._redis = redis
        self._source = script
        self._sha: str = redis.register_script(script).sha
        self._pending: list[Pending] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def run(self, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """The script's reply for these keys and args; raises what Redis or the socket raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((keys, args, future))
        if len(self._pending) == 1:
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.ensure_future(self._send(batch))
        self._sending.add(task)  # a reference, so the task is not collected mid-flight
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[Pending]) -> None:
        try:
            replies = await self._execute(batch)
        except Exception as exc:  # every caller in the batch gets the same failure
            for *_, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (*_, future), reply in zip(batch, replies, strict=True):
            if future.done():  # its caller was cancelled (the client went away)
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    async def _execute(self, batch: list[Pending]) -> list[Any]:
        replies = await self._pipeline(batch)
        missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if missing:
            # A restarted Redis has lost its script cache: load the script, run those again.
            await self._redis.script_load(self._source)
            again = await self._pipeline([batch[i] for i in missing])
            for index, reply in zip(missing, again, strict=True):
                replies[index] = reply
        return replies

    async def _pipeline(self, batch: list[Pending]) -> list[Any]:
        pipe = self._redis.pipeline(transaction=False)
        for keys, args, _ in batch:
            pipe.evalsha(self._sha, len(keys), *keys, *args)
        replies: list[Any] = await pipe.execute(raise_on_error=False)
        return replies
