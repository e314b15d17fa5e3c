"""Revocation and rate limits in one Redis round trip, with a fallback when Redis is down.

Concurrent requests' checks share that round trip (one pipeline, ``batch.py``).

Choice when Redis is unavailable: keep serving. Rate limits fall back to a per-process GCRA
in memory (so N gateway processes allow up to N times the limit during the outage), and every
revocation this process has already seen (from an earlier Redis answer) stays in force from a
local memory until the revoked credential expires. Revocations it has not seen are caught by
asking auth (``fallback.py``): the verdict says ``from_memory`` so the gatekeeper knows to.
After a failure the gateway does not touch Redis for
``GATEWAY_REDIS_RETRY_SECONDS`` so an outage costs no latency; every fallback decision is
logged at most once per retry period and counted in ``gateway_redis_fallback_total``.
"""

import logging
import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from services.gateway.app.batch import ScriptBatch
from services.gateway.app.metrics import GatewayMetrics
from services.gateway.app.ratelimit import GUARD_SCRIPT, Decision, Policy, gcra
from shared import redis_keys

log = logging.getLogger("taskstream.gateway.guard")
REVOKED_REASONS = {1: "token_revoked", 2: "session_revoked", 3: "user_logged_out", 4: "key_revoked"}
# How long a revocation seen in Redis is remembered locally (access lifetime + slack).
REMEMBER_SECONDS = 16 * 60
MEMORY_LIMITER_MAX_SUBJECTS = 100_000


@dataclass(frozen=True, slots=True)
class Credentials:
    """What can be revoked about a request: empty strings where a part does not apply."""

    subject: str
    token_id: str = ""
    session_id: str = ""
    user_id: str = ""
    issued_at: int = 0
    api_key_id: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    revoked: str | None
    decision: Decision
    # True when Redis was down: revocations made meanwhile are unknown here (see fallback.py).
    from_memory: bool = False


class MemoryLimiter:
    """Per-process GCRA, used only while Redis is unreachable."""

    def __init__(self) -> None:
        self._tats: dict[str, float] = {}

    def check(self, subject: str, policy: Policy) -> Decision:
        now_ms = time.time() * 1000
        if len(self._tats) > MEMORY_LIMITER_MAX_SUBJECTS:
            self._tats = {key: tat for key, tat in self._tats.items() if tat > now_ms}
        decision, tat = gcra(tat_ms=self._tats.get(subject, now_ms), now_ms=now_ms, policy=policy)
        self._tats[subject] = tat
        return decision


class RevocationMemory:
    """Revocations already seen, kept until they cannot matter any more."""

    def __init__(self) -> None:
        self._revoked: dict[str, float] = {}
        self._not_before: dict[str, tuple[int, float]] = {}

    def remember(self, reason: int, credentials: Credentials, not_before: int) -> None:
        until = time.time() + REMEMBER_SECONDS
        if reason == 3:
            self._not_before[credentials.user_id] = (not_before, until)
            return
        key = {1: credentials.token_id, 2: credentials.session_id, 4: credentials.api_key_id}
        self._revoked[f"{reason}:{key[reason]}"] = until

    def check(self, credentials: Credentials) -> str | None:
        now = time.time()
        for reason, part in ((1, credentials.token_id), (2, credentials.session_id)):
            if part and self._revoked.get(f"{reason}:{part}", 0) > now:
                return REVOKED_REASONS[reason]
        if credentials.api_key_id and self._revoked.get(f"4:{credentials.api_key_id}", 0) > now:
            return REVOKED_REASONS[4]
        not_before, until = self._not_before.get(credentials.user_id, (0, 0.0))
        if until > now and credentials.issued_at < not_before:
            return REVOKED_REASONS[3]
        return None


class AccessGuard:
    def __init__(self, redis: Redis, metrics: GatewayMetrics, *, retry_seconds: float) -> None:
        self._redis = redis
        self._script = ScriptBatch(redis, GUARD_SCRIPT)
        self._metrics = metrics
        self._retry_seconds = retry_seconds
        self._redis_down_until = 0.0
        self._limiter = MemoryLimiter()
        self._memory = RevocationMemory()

    async def check(self, credentials: Credentials, policy: Policy) -> Verdict:
        if time.monotonic() >= self._redis_down_until:
            try:
                return await self._check_in_redis_retrying_once(credentials, policy)
            except (RedisError, OSError) as exc:
                self._redis_down_until = time.monotonic() + self._retry_seconds
                log.warning(
                    "redis unavailable, limits and revocation from memory: %s", type(exc).__name__
                )
        self._metrics.redis_fallback.inc()
        revoked = self._memory.check(credentials)
        return Verdict(revoked, self._limiter.check(credentials.subject, policy), from_memory=True)

    async def _check_in_redis_retrying_once(
        self, credentials: Credentials, policy: Policy
    ) -> Verdict:
        """Pooled connections are stale after a Redis restart: drop the idle ones, try anew."""
        try:
            return await self._check_in_redis(credentials, policy)
        except RedisConnectionError:
            await self._redis.connection_pool.disconnect(inuse_connections=False)
            return await self._check_in_redis(credentials, policy)

    async def _check_in_redis(self, credentials: Credentials, policy: Policy) -> Verdict:
        keys = _script_keys(credentials, policy)
        args = (policy.interval_ms, policy.tolerance_ms, credentials.issued_at)
        reason, allowed, remaining, retry_ms, last = await self._script.run(keys, args)
        if reason:
            self._memory.remember(int(reason), credentials, int(last))
            return Verdict(REVOKED_REASONS[int(reason)], Decision(True, 0, 0, 0))
        return Verdict(None, Decision(bool(allowed), int(remaining), int(retry_ms), int(last)))


def limit_subject(policy: Policy, subject: str) -> str:
    """Buckets are per policy setting: gateways configured differently never share a TAT."""
    return f"{policy.name}:{policy.rate_per_second:g}:{policy.burst}:{subject}"


def _script_keys(credentials: Credentials, policy: Policy) -> list[str]:
    def key(part: str, name: Any) -> str:
        return str(name(part)) if part else ""

    return [
        redis_keys.rate_limit(limit_subject(policy, credentials.subject)),
        key(credentials.token_id, redis_keys.revoked_token),
        key(credentials.session_id, redis_keys.revoked_session),
        key(credentials.user_id if credentials.issued_at else "", redis_keys.user_not_before),
        key(credentials.api_key_id, redis_keys.revoked_api_key),
    ]
