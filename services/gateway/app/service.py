"""Admission of a request: who is calling (JWT or API key), revocation, rate limit.

No HTTP here: the proxy hands in the credentials it found and gets back an identity to sign
and the rate-limit decision for the response headers, or a domain error.
"""

import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from services.gateway.app.errors import NotAuthenticated, RateLimited
from services.gateway.app.fallback import ACTIVE_CACHE_SECONDS, FallbackRevocation
from services.gateway.app.guard import AccessGuard, Credentials
from services.gateway.app.metrics import GatewayMetrics
from services.gateway.app.ratelimit import Decision, Policy
from services.gateway.app.tokens import TokenVerifier
from shared.identity import ANONYMOUS, Identity

NEGATIVE_CACHE_SECONDS = 5.0
API_KEY_CACHE_MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class ResolvedKey:
    user_id: str
    key_id: str
    expires_at: float | None


KeyResolver = Callable[[str], Awaitable[ResolvedKey | None]]


@dataclass(frozen=True, slots=True)
class Admission:
    identity: Identity
    policy: Policy
    decision: Decision


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
        digest = hashlib.sha256(key.encode()).digest()
        now = self._clock()
        cached = self._entries.get(digest)
        fresh = cached is not None and (max_age is None or now - cached[2] <= max_age)
        if cached is not None and fresh and cached[1] > now:
            return cached[0]
        resolved = await self._resolve(key)
        self._store(digest, resolved, now)
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
        user_policy: Policy,
        public_policy: Policy,
        metrics: GatewayMetrics,
    ) -> None:
        self._verifier = verifier
        self._api_keys = api_keys
        self._guard = guard
        self._fallback = fallback
        self._user_policy = user_policy
        self._public_policy = public_policy
        self._metrics = metrics

    async def admit_public(self, *, client_ip: str) -> Admission:
        identity = Identity(user_id=ANONYMOUS, via="service", client_ip=client_ip)
        return await self._admit(
            identity, Credentials(subject=f"ip:{client_ip}"), self._public_policy
        )

    async def admit_user(
        self, *, authorization: str | None, api_key: str | None, client_ip: str
    ) -> Admission:
        try:
            if authorization is not None:
                identity, credentials = await self._bearer(authorization, client_ip)
            elif api_key is not None:
                identity, credentials = await self._api_key(api_key, client_ip)
            else:
                raise NotAuthenticated("missing")
        except NotAuthenticated as exc:
            self._metrics.auth_failures.labels(exc.reason).inc()
            raise
        return await self._admit(identity, credentials, self._user_policy, api_key=api_key or "")

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

    async def _api_key(self, key: str, client_ip: str) -> tuple[Identity, Credentials]:
        resolved = await self._api_keys.lookup(key) if key else None
        if resolved is None:
            raise NotAuthenticated("invalid_api_key", "The API key is not valid.")
        identity = Identity(
            user_id=resolved.user_id, via="api_key", api_key_id=resolved.key_id, client_ip=client_ip
        )
        credentials = Credentials(subject=f"user:{resolved.user_id}", api_key_id=resolved.key_id)
        return identity, credentials

    async def _admit(
        self, identity: Identity, credentials: Credentials, policy: Policy, *, api_key: str = ""
    ) -> Admission:
        verdict = await self._guard.check(credentials, policy)
        revoked = verdict.revoked
        if revoked is None and verdict.from_memory:
            revoked = await self._fallback.revoked(credentials, api_key=api_key)
        if revoked is not None:
            self._metrics.auth_failures.labels(revoked).inc()
            raise NotAuthenticated(revoked, "The credentials have been revoked.")
        if not verdict.decision.allowed:
            self._metrics.rate_limited.labels(policy.name).inc()
            raise RateLimited("Too many requests; slow down.", policy, verdict.decision)
        return Admission(identity, policy, verdict.decision)
