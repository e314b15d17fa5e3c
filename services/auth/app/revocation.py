"""Revocations the gateway reads from Redis on every request (keys in ``shared.redis_keys``)."""

import time
from collections.abc import Sequence
from typing import Protocol

from redis.asyncio import Redis

from shared import redis_keys

API_KEY_REVOCATION_TTL_SECONDS = 86_400
# Covers clock skew between auth and the gateway and requests already in flight.
SKEW_SECONDS = 60


class RevocationList(Protocol):
    """What ``AuthService`` revokes; ``Revocations`` writes it to Redis for the gateway."""

    async def revoke_token(self, *, jti: str, expires_at: int) -> None: ...

    async def revoke_sessions(self, session_ids: Sequence[str]) -> None: ...

    async def revoke_user_tokens(self, *, user_id: str, before: int) -> None: ...

    async def revoke_api_key(self, key_id: str) -> None: ...


class Revocations:
    def __init__(self, redis: Redis, *, access_token_ttl: int) -> None:
        self.redis = redis
        # Nothing signed before a revocation can outlive this, so the keys may expire then.
        self.session_ttl = access_token_ttl + SKEW_SECONDS

    async def revoke_token(self, *, jti: str, expires_at: int) -> None:
        ttl = int(expires_at - time.time()) + SKEW_SECONDS
        if ttl > 0:
            await self.redis.set(redis_keys.revoked_token(jti), b"1", ex=ttl)

    async def revoke_sessions(self, session_ids: Sequence[str]) -> None:
        if not session_ids:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for session_id in session_ids:
                pipe.set(redis_keys.revoked_session(session_id), b"1", ex=self.session_ttl)
            await pipe.execute()

    async def revoke_user_tokens(self, *, user_id: str, before: int) -> None:
        key = redis_keys.user_not_before(user_id)
        await self.redis.set(key, str(before).encode(), ex=self.session_ttl)

    async def revoke_api_key(self, key_id: str) -> None:
        key = redis_keys.revoked_api_key(key_id)
        await self.redis.set(key, b"1", ex=API_KEY_REVOCATION_TTL_SECONDS)
