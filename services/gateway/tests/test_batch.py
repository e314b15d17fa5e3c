"""The script batch: one pipeline per loop turn, each caller its own reply or error."""

import asyncio
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

from services.gateway.app.batch import ScriptBatch


class ScriptedRedis:
    """Replies per key: the key itself, an error for ``bad``; a cache that may be empty."""

    def __init__(self, *, loaded: bool = True, down: bool = False) -> None:
        self.loaded = loaded
        self.down = down
        self.trips: list[list[str]] = []
        self.loads = 0

    def register_script(self, _: str) -> Any:
        return type("Script", (), {"sha": "sha"})()

    async def script_load(self, _: str) -> str:
        self.loads += 1
        self.loaded = True
        return "sha"

    def pipeline(self, *, transaction: bool) -> Any:
        return Pipeline(self)


class Pipeline:
    def __init__(self, redis: ScriptedRedis) -> None:
        self.redis = redis
        self.keys: list[str] = []

    def evalsha(self, sha: str, numkeys: int, *keys_and_args: Any) -> None:
        self.keys.append(keys_and_args[0])

    async def execute(self, *, raise_on_error: bool) -> list[Any]:
        await asyncio.sleep(0)
        if self.redis.down:
            raise RedisConnectionError("refused")
        self.redis.trips.append(self.keys)
        if not self.redis.loaded:
            return [NoScriptError("NOSCRIPT") for _ in self.keys]
        return [ResponseError("bad") if key == "bad" else key for key in self.keys]


def batch_of(redis: ScriptedRedis) -> ScriptBatch:
    return ScriptBatch(redis, "return 1")  # type: ignore[arg-type]


async def test_calls_in_one_loop_turn_share_a_trip_and_each_gets_its_reply() -> None:
    redis = ScriptedRedis()
    batch = batch_of(redis)
    replies = await asyncio.gather(*(batch.run([f"k{i}"], [i]) for i in range(5)))
    assert replies == ["k0", "k1", "k2", "k3", "k4"]
    assert redis.trips == [["k0", "k1", "k2", "k3", "k4"]]
    assert await batch.run(["later"], []) == "later"
    assert len(redis.trips) == 2


async def test_an_error_reaches_only_its_own_caller() -> None:
    batch = batch_of(ScriptedRedis())
    results = await asyncio.gather(
        batch.run(["good"], []), batch.run(["bad"], []), return_exceptions=True
    )
    assert results[0] == "good"
    assert isinstance(results[1], ResponseError)


async def test_a_connection_failure_reaches_every_caller_of_the_trip() -> None:
    batch = batch_of(ScriptedRedis(down=True))
    results = await asyncio.gather(*(batch.run([k], []) for k in "ab"), return_exceptions=True)
    assert all(isinstance(result, RedisConnectionError) for result in results)


async def test_a_lost_script_cache_is_reloaded_and_the_calls_run_again() -> None:
    redis = ScriptedRedis(loaded=False)
    batch = batch_of(redis)
    assert list(await asyncio.gather(batch.run(["a"], []), batch.run(["b"], []))) == ["a", "b"]
    assert redis.loads == 1


async def test_a_cancelled_caller_does_not_disturb_the_others() -> None:
    batch = batch_of(ScriptedRedis())
    leaving = asyncio.ensure_future(batch.run(["gone"], []))
    staying = asyncio.ensure_future(batch.run(["kept"], []))
    await asyncio.sleep(0)
    leaving.cancel()
    assert await staying == "kept"
    with pytest.raises(asyncio.CancelledError):
        await leaving
