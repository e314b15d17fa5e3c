"""GCRA rate limiting: the pure math, and the same algorithm as one atomic Redis Lua script.

GCRA (the generic cell rate algorithm) keeps one number per subject, the "theoretical arrival
time" (TAT) of the next request. A request is allowed while it would not push the TAT more
than ``burst`` emission intervals into the future; allowing it advances the TAT by one
interval. One key per subject, no counters to reset, and exact bursts.

The Lua script also checks revocation (access-token id, session, user not-before, API key)
before spending a token, so an authenticated request costs one Redis round trip.
"""

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Policy:
    """A rate and burst for one kind of subject; ``name`` appears in ``RateLimit-Policy``."""

    name: str
    rate_per_second: float
    burst: int

    @property
    def interval_ms(self) -> float:
        return 1000.0 / self.rate_per_second

    @property
    def tolerance_ms(self) -> float:
        return self.interval_ms * self.burst

    @property
    def window_seconds(self) -> int:
        """How long an empty bucket takes to fill up again."""
        return max(1, math.ceil(self.burst / self.rate_per_second))

    @property
    def policy_header(self) -> bytes:
        return f'"{self.name}";q={self.burst};w={self.window_seconds}'.encode()


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    remaining: int
    retry_after_ms: int
    reset_ms: int

    def headers(self, policy: Policy) -> list[tuple[bytes, bytes]]:
        """The IETF ``RateLimit-Policy`` and ``RateLimit`` fields (plus ``Retry-After``)."""
        reset = max(0, math.ceil(self.reset_ms / 1000))
        fields = [
            (b"ratelimit-policy", policy.policy_header),
            (b"ratelimit", f'"{policy.name}";r={self.remaining};t={reset}'.encode()),
        ]
        if not self.allowed:
            fields.append(
                (b"retry-after", str(max(1, math.ceil(self.retry_after_ms / 1000))).encode())
            )
        return fields


def gcra(*, tat_ms: float, now_ms: float, policy: Policy) -> tuple[Decision, float]:
    """Decide one request; return the decision and the TAT to store (unchanged if denied)."""
    tat = max(tat_ms, now_ms)
    new_tat = tat + policy.interval_ms
    allow_at = new_tat - policy.tolerance_ms
    if now_ms < allow_at:
        return Decision(False, 0, math.ceil(allow_at - now_ms), math.ceil(tat - now_ms)), tat
    remaining = math.floor((now_ms + policy.tolerance_ms - new_tat) / policy.interval_ms)
    return Decision(True, remaining, 0, math.ceil(new_tat - now_ms)), new_tat


# KEYS: 1 rate-limit key, 2 revoked jti, 3 revoked session, 4 user not-before, 5 revoked API
# key; an empty key name means "does not apply". ARGV: 1 interval ms, 2 tolerance ms,
# 3 token iat (unix seconds). Returns {revoked reason, allowed, remaining, retry ms, reset ms};
# for the not-before reason the last element is the not-before time instead.
GUARD_SCRIPT = """
if KEYS[2] ~= '' and redis.call('EXISTS', KEYS[2]) == 1 then return {1, 0, 0, 0, 0} end
if KEYS[3] ~= '' and redis.call('EXISTS', KEYS[3]) == 1 then return {2, 0, 0, 0, 0} end
if KEYS[4] ~= '' then
  local nbf = tonumber(redis.call('GET', KEYS[4]) or '')
  if nbf and tonumber(ARGV[3]) < nbf then return {3, 0, 0, 0, math.floor(nbf)} end
end
if KEYS[5] ~= '' and redis.call('EXISTS', KEYS[5]) == 1 then return {4, 0, 0, 0, 0} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '') or now
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - tolerance
if now < allow_at then
  return {0, 0, 0, math.ceil(allow_at - now), math.ceil(tat - now)}
end
redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', math.ceil(new_tat - now) + 1000)
return {0, 1, math.floor((now + tolerance - new_tat) / interval), 0, math.ceil(new_tat - now)}
"""
