"""Failed-login throttling in Redis, per account and per client address.

Per account, an attempt is counted before the password is checked (INCR is atomic), so a burst
of parallel guesses at one account cannot slip past its limit; only a successful login clears
the count. Per address, only failures count, and a success gives nothing back: otherwise an
attacker could interleave logins to an account of their own to keep guessing at everyone
else's. (Parallel guesses from one address are bounded by the gateway's per-address limit.)
"""

import hashlib
import math

from redis.asyncio import Redis

from services.auth.app.errors import LoginThrottled


def account_key(email: str) -> str:
    # Hashed so Redis never holds email addresses.
    return f"auth:loginfail:acct:{hashlib.sha256(email.encode()).hexdigest()}"


def address_key(address: str) -> str:
    return f"auth:loginfail:addr:{address}"


def retry_after(ttl_ms: int) -> int:
    return math.ceil(max(ttl_ms, 1000) / 1000)


class LoginThrottle:
    def __init__(
        self, redis: Redis, *, per_account: int, per_address: int, window_seconds: int
    ) -> None:
        self.redis = redis
        self.per_account = per_account
        self.per_address = per_address
        self.window_seconds = window_seconds

    async def begin_attempt(self, *, email: str, address: str) -> None:
        """Count one attempt at the account; raise ``LoginThrottled`` if either is over."""
        account = account_key(email)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(account)
            pipe.expire(account, self.window_seconds, nx=True)
            pipe.pttl(account)
            pipe.get(address_key(address))
            pipe.pttl(address_key(address))
            attempts, _, account_ttl, failures, address_ttl = await pipe.execute()
        if attempts > self.per_account:
            raise LoginThrottled(retry_after(account_ttl))
        if failures is not None and int(failures) >= self.per_address:
            raise LoginThrottled(retry_after(address_ttl))

    async def failed(self, *, address: str) -> None:
        key = address_key(address)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, self.window_seconds, nx=True)
            await pipe.execute()

    async def succeeded(self, *, email: str) -> None:
        """A success ends the account's run of failures."""
        await self.redis.delete(account_key(email))
