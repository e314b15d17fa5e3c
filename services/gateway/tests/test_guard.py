"""With Redis down the guard keeps serving: limits from memory, seen revocations still hold."""

import asyncio
from types import SimpleNamespace
from typing import Any

from prometheus_client import CollectorRegistry
from redis.exceptions import ConnectionError as RedisConnectionError

from services.gateway.app.guard import AccessGuard, Credentials
from services.gateway.app.metrics import GatewayMetrics
from services.gateway.app.ratelimit import Policy

POLICY = Policy("user", rate_per_second=1, burst=2)
TOKEN = Credentials(subject="user:u1", token_id="j1", session_id="s1", user_id="u1", issued_at=100)


class FakeRedis:
    """Answers the guard script with a canned reply, or fails like a stopped server."""

    def __init__(self) -> None:
        self.reply: list[int] = [0, 1, 1, 0, 1000]
        self.down = False
        self.stale_connections = 0
        self.calls: list[list[str]] = []
        self.trips = 0

    @property
    def connection_pool(self) -> Any:
        return self

    async def disconnect(self, *, inuse_connections: bool) -> None:
        self.stale_connections = 0

    def register_script(self, _: str) -> Any:
        return SimpleNamespace(sha="sha")

    def pipeline(self, *, transaction: bool) -> "FakePipeline":
        assert not transaction
        return FakePipeline(self)


class FakePipeline:
    def __init__(self, redis: FakeRedis) -> None:
        self.redis = redis
        self.queued: list[list[str]] = []

    def evalsha(self, sha: str, numkeys: int, *keys_and_args: Any) -> None:
        self.queued.append(list(keys_and_args[:numkeys]))

    async def execute(self, *, raise_on_error: bool) -> list[Any]:
        self.redis.trips += 1
        if self.redis.down or self.redis.stale_connections:
            self.redis.stale_connections = max(0, self.redis.stale_connections - 1)
            raise RedisConnectionError("connection refused")
        self.redis.calls.extend(self.queued)
        return [self.redis.reply for _ in self.queued]


def make_guard(redis: FakeRedis) -> tuple[AccessGuard, GatewayMetrics]:
    metrics = GatewayMetrics(CollectorRegistry())
    return AccessGuard(redis, metrics, retry_seconds=0), metrics  # type: ignore[arg-type]


async def test_one_script_call_carries_every_revocation_key() -> None:
    redis = FakeRedis()
    guard, _ = make_guard(redis)
    verdict = await guard.check(TOKEN, POLICY)
    assert verdict.revoked is None
    assert verdict.decision.allowed
    assert redis.calls == [
        ["ratelimit:user:1:2:user:u1", "revoked:jti:j1", "revoked:sid:s1", "user:{u1}:nbf", ""]
    ]


async def test_concurrent_checks_share_one_round_trip() -> None:
    redis = FakeRedis()
    guard, _ = make_guard(redis)
    verdicts = await asyncio.gather(*(guard.check(TOKEN, POLICY) for _ in range(10)))
    assert all(v.decision.allowed and v.revoked is None for v in verdicts)
    assert len(redis.calls) == 10
    assert redis.trips == 1


async def test_a_stale_connection_after_a_redis_restart_is_not_an_outage() -> None:
    redis = FakeRedis()
    guard, metrics = make_guard(redis)
    redis.reply = [2, 0, 0, 0, 0]
    redis.stale_connections = 5
    assert (await guard.check(TOKEN, POLICY)).revoked == "session_revoked"
    assert metrics.redis_fallback._value.get() == 0


async def test_limits_fall_back_to_memory_when_redis_is_down() -> None:
    redis = FakeRedis()
    redis.down = True
    guard, metrics = make_guard(redis)
    allowed = [(await guard.check(TOKEN, POLICY)).decision.allowed for _ in range(3)]
    assert allowed == [True, True, False]
    assert metrics.redis_fallback._value.get() == 3


async def test_a_revocation_seen_before_the_outage_stays_in_force() -> None:
    redis = FakeRedis()
    guard, _ = make_guard(redis)
    redis.reply = [2, 0, 0, 0, 0]
    assert (await guard.check(TOKEN, POLICY)).revoked == "session_revoked"
    redis.down = True
    assert (await guard.check(TOKEN, POLICY)).revoked == "session_revoked"
    other = Credentials(
        subject="user:u2", token_id="j2", session_id="s2", user_id="u2", issued_at=100
    )
    assert (await guard.check(other, POLICY)).revoked is None


async def test_a_logout_all_seen_before_the_outage_refuses_older_tokens_only() -> None:
    redis = FakeRedis()
    guard, _ = make_guard(redis)
    redis.reply = [3, 0, 0, 0, 150]
    assert (await guard.check(TOKEN, POLICY)).revoked == "user_logged_out"
    redis.down = True
    newer = Credentials(
        subject="user:u1", token_id="j3", session_id="s3", user_id="u1", issued_at=200
    )
    assert (await guard.check(TOKEN, POLICY)).revoked == "user_logged_out"
    assert (await guard.check(newer, POLICY)).revoked is None
