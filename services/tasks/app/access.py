"""Whether a long-lived request's caller may still be served: its credential not revoked."""

import time
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared import redis_keys
from shared.identity import Identity


def revocation_keys(identity: Identity) -> list[str]:
    keys = [redis_keys.user_not_before(identity.user_id)]
    if identity.session_id:
        keys.append(redis_keys.revoked_session(identity.session_id))
    if identity.token_id:
        keys.append(redis_keys.revoked_token(identity.token_id))
    if identity.api_key_id:
        keys.append(redis_keys.revoked_api_key(identity.api_key_id))
    return keys


def access_check(redis: Redis, identity: Identity) -> Callable[[], Awaitable[bool]]:
    """For a stream opened now: false once the token expires, the session, token or key is
    revoked, or the user signs out everywhere. Redis unreachable counts as revoked: the
    client reconnects through the gateway, which can still check with auth."""
    opened_at = time.time()
    keys = revocation_keys(identity)

    async def still_allowed() -> bool:
        if identity.token_expires_at is not None and time.time() >= identity.token_expires_at:
            return False
        try:
            not_before, *revoked = await redis.mget(keys)
        except RedisError:
            return False
        if any(revoked):
            return False
        return not_before is None or float(not_before) <= opened_at

    return still_allowed
