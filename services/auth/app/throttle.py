"""Failed-login throttling in Redis, per account and per client address.

An attempt is counted before the password is checked (INCR is atomic), so a burst of parallel
guesses cannot slip past the limit; a successful login gives its count back.
"""

import hashlib
import math

from redis.asyncio import Redis

from services.auth.app.errors import LoginThrottled

# A plain DECR on an expired key would leave a negative count without a TTL.
DECR_IF_EXISTS = "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end"


def account_key(email: str) -> str:
    # Hashed so Redis never holds email addresses.
    return f"auth:loginfail:acct:{hashlib.sha256(email.encode()).hexdigest()}"


def address_key(address: str) -> str:
    return f"auth:loginfail:addr:{address}"


class LoginThrottle:
    def __init__(
        self, redis: Redis, *, per_account: int, per_address: int, window_seconds: int
    ) -> None:
        self.redis = redis
        self.limits = {"account": per_account, "address": per_address}
        self.window_seconds = window_seconds

    async def begin_attempt(self, *, email: str, address: str) -> None:
        """Count one attempt; raise ``LoginThrottled`` if either count is over its limit."""
        keys = {"account": account_key(email), "address": address_key(address)}
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in keys.values():
                pipe.incr(key)
                pipe.expire(key, self.window_seconds, nx=True)
                pipe.pttl(key)
            results = await pipe.execute()
        for index, name in enumerate(keys):
            count, ttl_ms = results[index * 3], results[index * 3 + 2]
            if count > self.limits[name]:
                raise LoginThrottled(math.ceil(max(ttl_ms, 1000) / 1000))

    async def succeeded(self, *, email: str, address: str) -> None:
        """A success ends the account's run of failures and is not held against the address."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(account_key(email))
            pipe.eval(DECR_IF_EXISTS, 1, address_key(address))
            await pipe.execute()
