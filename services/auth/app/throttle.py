"""Failed-login throttling in Redis, per (account, client address) and per client address.

Per (account, address), an attempt is counted before the password is checked (INCR is
atomic), so a burst of parallel guesses cannot slip past the limit; a successful login from
that address clears the count. A stranger failing at someone's account from their own
address therefore locks only themselves out: the owner, from an address that has not been
failing, still signs in.

Per address, only failures count, and a success gives nothing back: otherwise an attacker
could interleave logins to an account of their own to keep guessing at everyone else's.

Per account (all addresses together), failures are counted too, but never refuse anything:
past ``flood_threshold`` the account is under a distributed guessing attack, so each further
failure is slowed, logged and counted in metrics (see ``AuthService``).

Addresses are grouped by ``shared.addresses.address_bucket`` (IPv6 per /64).
"""

import hashlib
import math
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis

from services.auth.app.errors import LoginThrottled
from shared.addresses import address_bucket


def _digest(*parts: str) -> str:
    # Hashed so Redis never holds email addresses.
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def pair_key(email: str, address: str) -> str:
    return f"auth:loginfail:pair:{_digest(email, address_bucket(address))}"


def address_key(address: str) -> str:
    return f"auth:loginfail:addr:{address_bucket(address)}"


def account_key(email: str) -> str:
    return f"auth:loginfail:acct:{_digest(email)}"


def retry_after(ttl_ms: int) -> int:
    return math.ceil(max(ttl_ms, 1000) / 1000)


@dataclass(frozen=True, slots=True)
class AttemptCounts:
    """What Redis holds when an attempt begins (this attempt included in ``pair_attempts``)."""

    pair_attempts: int
    pair_ttl_ms: int
    address_failures: int
    address_ttl_ms: int
    account_failures: int


@dataclass(frozen=True, slots=True)
class Limits:
    per_pair: int
    per_address: int
    flood_threshold: int


def judge(counts: AttemptCounts, limits: Limits) -> bool:
    """Raise ``LoginThrottled`` if this attempt is refused; else whether the account is flooded."""
    if counts.pair_attempts > limits.per_pair:
        raise LoginThrottled(retry_after(counts.pair_ttl_ms))
    if counts.address_failures >= limits.per_address:
        raise LoginThrottled(retry_after(counts.address_ttl_ms))
    return counts.account_failures >= limits.flood_threshold


class LoginAttempts(Protocol):
    """What ``AuthService`` asks of the throttle; ``LoginThrottle`` keeps it in Redis."""

    async def begin_attempt(self, *, email: str, address: str) -> bool: ...

    async def failed(self, *, email: str, address: str) -> None: ...

    async def succeeded(self, *, email: str, address: str) -> None: ...


class LoginThrottle:
    def __init__(self, redis: Redis, *, limits: Limits, window_seconds: int) -> None:
        self.redis = redis
        self.limits = limits
        self.window_seconds = window_seconds

    async def begin_attempt(self, *, email: str, address: str) -> bool:
        """Count one attempt; raise ``LoginThrottled`` if refused, else return ``judge``'s flag."""
        pair, by_address = pair_key(email, address), address_key(address)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(pair)
            pipe.expire(pair, self.window_seconds, nx=True)
            pipe.pttl(pair)
            pipe.get(by_address)
            pipe.pttl(by_address)
            pipe.get(account_key(email))
            attempts, _, pair_ttl, failures, address_ttl, account = await pipe.execute()
        counts = AttemptCounts(
            int(attempts), int(pair_ttl), int(failures or 0), int(address_ttl), int(account or 0)
        )
        return judge(counts, self.limits)

    async def failed(self, *, email: str, address: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in (address_key(address), account_key(email)):
                pipe.incr(key)
                pipe.expire(key, self.window_seconds, nx=True)
            await pipe.execute()

    async def succeeded(self, *, email: str, address: str) -> None:
        """A success ends this address's run of failures at the account."""
        await self.redis.delete(pair_key(email, address))
