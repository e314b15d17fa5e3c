"""Admission of a request: who is calling (JWT or API key), revocation, rate limit.

No HTTP here: the proxy hands in the credentials it found and gets back an identity to sign
and the rate-limit decision for the response headers, or a domain error.
"""

import enum
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from services.gateway.app.errors import NotAuthenticated, RateLimited
from services.gateway.app.failures import InvalidCredentialThrottle
from services.gateway.app.fallback import ACTIVE_CACHE_SECONDS, FallbackRevocation
from services.gateway.app.guard import AccessGuard, Credentials
from services.gateway.app.metrics import GatewayMetrics
from services.gateway.app.ratelimit import Decision, Policy
from services.gateway.app.tokens import TokenVerifier
from shared.addresses import address_bucket
from shared.identity import ANONYMOUS, Identity

NEGATIVE_CACHE_SECONDS = 5.0
API_KEY_CACHE_MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class ResolvedKey:
    user_id: str
    key_id: str
    expires_at: float | None
    scopes: frozenset[str] = frozenset()


KeyResolver = Callable[[str], Awaitable[ResolvedKey | None]]


class Missing(enum.Enum):
    MISSING = "missing"


MISSING = Missing.MISSING


@dataclass(frozen=True, slots=True)
class Admission:
    identity: Identity
    policy: Policy
    decision: Decision
    # An API key's scopes; ``None`` for a bearer token, which may reach every route.
    scopes: frozenset[str] | None = None


class ApiKeyCache:
    """Resolved API keys for a short while, so auth is not asked on every request.

    Deletion still takes effect at once: the guard checks the key's revocation marker in
    Redis on every request, whatever this cache says. While Redis is down that marker cannot
    be read, so ``resolves_freshly`` asks auth again unless it answered in the last seconds.
    """

    def __init__(
        self, resolve: KeyResolver, *, ttl_seconds: float, clock: Callable[[], float] = time.time
    ) -> None:
        self._clock = clock
        self._resolve = resolve
        self._ttl = ttl_seconds
        # digest -> (what auth said, valid until, when auth said it)
        self._entries: dict[bytes, tuple[ResolvedKey | None, float, float]] = {}

    async def lookup(self, key: str, *, max_age: float | None = None) -> ResolvedKey | None:
        found = self.cached(key, max_age=max_age)
        if found is not MISSING:
            return found
        return await self.resolve(key)

    def cached(self, key: str, *, max_age: float | None = None) -> ResolvedKey | Missing | None:
        """What auth last said about ``key`` while still fresh, else ``MISSING``."""
        now = self._clock()
        cached = self._entries.get(hashlib.sha256(key.encode()).digest())
        fresh = cached is not None and (max_age is None or now - cached[2] <= max_age)
        if cached is not None and fresh and cached[1] > now:
            return cached[0]
        return MISSING

    async def resolve(self, key: str) -> ResolvedKey | None:
        now = self._clock()
        resolved = await self._resolve(key)
        self._store(hashlib.sha256(key.encode()).digest(), resolved, now)
        return resolved

    async def resolves_freshly(self, key: str) -> bool:
        return await self.lookup(key, max_age=ACTIVE_CACHE_SECONDS) is not None

    def _store(self, digest: bytes, resolved: ResolvedKey | None, now: float) -> None:
        if len(self._entries) >= API_KEY_CACHE_MAX_ENTRIES:
            self._entries = {d: e for d, e in self._entries.items() if e[1] > now}
        until = now + (self._ttl if resolved else NEGATIVE_CACHE_SECONDS)
        if resolved and resolved.expires_at is not None:
            until = min(until, resolved.expires_at)
        self._entries[digest] = (resolved, until, now)


class Gatekeeper:
    def __init__(
        self,
        *,
        verifier: TokenVerifier,
        api_keys: ApiKeyCache,
        guard: AccessGuard,
        fallback: FallbackRevocation,
        failures: InvalidCredentialThrottle,
        user_policy: Policy,
        public_policy: Policy,
        metrics: GatewayMetrics,
    ) -> None:
        self._verifier = verifier
        self._api_keys = api_keys
        self._guard = guard
        self._fallback = fallback
        self._failures = failures
        self._user_policy = user_policy
        self._public_policy = public_policy
        self._metrics = metrics

    async def admit_public(self, *, client_ip: str) -> Admission:
        identity = Identity(user_id=ANONYMOUS, via="service", client_ip=client_ip)
        subject = f"ip:{address_bucket(client_ip)}"
        return await self._admit(identity, Credentials(subject=subject), self._public_policy)

    async def admit_user(
        self, *, authorization: str | None, api_key: str | None, client_ip: str
    ) -> Admission:
        bucket = address_bucket(client_ip)
        self._failures.check(bucket)
        try:
            return await self._admit_user(authorization, api_key, client_ip, bucket)
        except NotAuthenticated as exc:
            self._metrics.auth_failures.labels(exc.reason).inc()
            if exc.reason != "missing":
                await self._failures.failed(bucket)
            raise

    async def _admit_user(
        self, authorization: str | None, api_key: str | None, client_ip: str, bucket: str
    ) -> Admission:
        scopes: frozenset[str] | None = None
        if authorization is not None:
            identity, credentials = await self._bearer(authorization, client_ip)
        elif api_key is not None:
            resolved = await self._resolved_key(api_key, bucket)
            identity, credentials = key_identity(resolved, client_ip)
            scopes = resolved.scopes
        else:
            raise NotAuthenticated("missing")
        admission = await self._admit(
            identity, credentials, self._user_policy, api_key=api_key or ""
        )
        return Admission(admission.identity, admission.policy, admission.decision, scopes)

    async def _bearer(self, authorization: str, client_ip: str) -> tuple[Identity, Credentials]:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated("malformed", "Use 'Authorization: Bearer <access token>'.")
        claims = await self._verifier.verify(token.strip())
        identity = Identity(
            user_id=claims.user_id,
            via="jwt",
            session_id=claims.session_id,
            token_id=claims.token_id,
            token_expires_at=claims.expires_at,
            client_ip=client_ip,
        )
        credentials = Credentials(
            subject=f"user:{claims.user_id}",
            token_id=claims.token_id,
            session_id=claims.session_id,
            user_id=claims.user_id,
            issued_at=claims.issued_at,
        )
        return identity, credentials

    async def _resolved_key(self, key: str, bucket: str) -> ResolvedKey:
        resolved = self._api_keys.cached(key) if key else None
        if resolved is MISSING:
            async with self._failures.lookup(bucket):
                resolved = await self._api_keys.resolve(key)
        if resolved is None:
            raise NotAuthenticated("invalid_api_key", "The API key is not valid.")
        return resolved

    async def _admit(
        self, identity: Identity, credentials: Credentials, policy: Policy, *, api_key: str = ""
    ) -> Admission:
        verdict = await self._guard.check(credentials, policy)
        revoked = verdict.revoked
        if revoked is None and verdict.from_memory:
            revoked = await self._fallback.revoked(credentials, api_key=api_key)
        if revoked is not None:  # counted as an auth failure by ``admit_user``
            raise NotAuthenticated(revoked, "The credentials have been revoked.")
        if not verdict.decision.allowed:
            self._metrics.rate_limited.labels(policy.name).inc()
            raise RateLimited("Too many requests; slow down.", policy, verdict.decision)
        return Admission(identity, policy, verdict.decision)


def key_identity(resolved: ResolvedKey, client_ip: str) -> tuple[Identity, Credentials]:
    identity = Identity(
        user_id=resolved.user_id, via="api_key", api_key_id=resolved.key_id, client_ip=client_ip
    )
    return identity, Credentials(subject=f"user:{resolved.user_id}", api_key_id=resolved.key_id)
