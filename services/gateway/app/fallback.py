"""Revocation while Redis is down: ask auth, whose MongoDB holds the truth.

Normally every request's revocation check is one Redis round trip (``guard.py``). When Redis
is unreachable the guard only knows the revocations it has seen itself, so a token revoked
before the outage (or during it) would be served. Instead, for every request the guard
answered from memory:

- a JWT's session is checked with auth (``POST /internal/v1/sessions/check``); logout,
  logout-all and refresh-token theft all end the session there. An active answer is cached for
  ``ACTIVE_CACHE_SECONDS``, an inactive one for as long as any token of it can live (a revoked
  session never comes back).
- an API key is resolved again unless auth confirmed it within ``ACTIVE_CACHE_SECONDS``, so a
  deleted key stops within that time.

If auth cannot answer either, the request is refused with 503 + ``Retry-After`` (fail closed):
only a session confirmed active in the last few seconds is still served.
"""

import time
from collections.abc import Awaitable, Callable

from services.gateway.app.errors import (
    BadUpstream,
    RevocationUnverifiable,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from services.gateway.app.guard import REMEMBER_SECONDS, Credentials
from services.gateway.app.metrics import GatewayMetrics

SessionCheck = Callable[[Credentials], Awaitable[bool]]
KeyCheck = Callable[[str], Awaitable[bool]]

ACTIVE_CACHE_SECONDS = 5.0
MAX_CACHED_SESSIONS = 100_000
RETRY_AFTER_SECONDS = 5
UNREACHABLE = (BadUpstream, UpstreamTimeout, UpstreamUnavailable)


class FallbackRevocation:
    def __init__(
        self,
        check_session: SessionCheck,
        key_resolves: KeyCheck,
        metrics: GatewayMetrics,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._check_session = check_session
        self._key_resolves = key_resolves
        self._metrics = metrics
        self._sessions: dict[str, tuple[bool, float]] = {}

    async def revoked(self, credentials: Credentials, *, api_key: str = "") -> str | None:
        """The revocation reason for credentials the guard could only check from memory."""
        if credentials.session_id:
            return None if await self._session_active(credentials) else "session_revoked"
        if api_key:
            return (
                None if await self._ask("api_key", self._key_resolves(api_key)) else "key_revoked"
            )
        return None

    async def _session_active(self, credentials: Credentials) -> bool:
        now = self._clock()
        cached = self._sessions.get(credentials.session_id)
        if cached is not None and cached[1] > now:
            self._metrics.fallback_checks.labels("session", "cached").inc()
            return cached[0]
        active = await self._ask("session", self._check_session(credentials))
        self._remember(credentials.session_id, active, now)
        return active

    def _remember(self, session_id: str, active: bool, now: float) -> None:
        if len(self._sessions) >= MAX_CACHED_SESSIONS:
            self._sessions = {sid: e for sid, e in self._sessions.items() if e[1] > now}
        self._sessions[session_id] = (
            active,
            now + (ACTIVE_CACHE_SECONDS if active else REMEMBER_SECONDS),
        )

    async def _ask(self, kind: str, answer: Awaitable[bool]) -> bool:
        try:
            active = await answer
        except UNREACHABLE:
            self._metrics.fallback_checks.labels(kind, "unreachable").inc()
            raise RevocationUnverifiable(retry_after=RETRY_AFTER_SECONDS) from None
        self._metrics.fallback_checks.labels(kind, "active" if active else "inactive").inc()
        return active
