"""What flag rules may target beyond the user id: e-mail domain and account age, from auth.

Access tokens carry only the user id, so for OFREP the gateway asks auth's
``/api/v1/auth/me`` once per user per ``ttl`` (5 minutes). When auth cannot answer, flags are
evaluated with the user id alone (rules on ``email_domain`` or ``account_age_days`` then do
not match) and the miss is remembered briefly so auth is not asked on every request. The
proxied hot path never asks: canary routing needs the user id only.
"""

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import orjson
from openfeature.evaluation_context import EvaluationContext

from services.gateway.app.client import UpstreamClient
from shared.flags import evaluation_context
from shared.identity import IDENTITY_HEADER, Identity, sign_identity
from shared.problems import DomainError

log = logging.getLogger("taskstream.gateway.profiles")
ME_PATH = "/api/v1/auth/me"
MISS_SECONDS = 10.0
MAX_ENTRIES = 10_000
Fetch = Callable[[Identity], Awaitable[bytes | None]]


@dataclass(frozen=True, slots=True)
class Profile:
    email: str | None = None
    created_at: datetime | None = None


def parse_profile(content: bytes | None) -> Profile:
    """Auth's ``{email, created_at, ...}``; an empty profile for anything else."""
    try:
        data = orjson.loads(content or b"")
        return Profile(str(data["email"]), datetime.fromisoformat(data["created_at"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return Profile()


class ProfileCache:
    def __init__(
        self,
        fetch: Fetch,
        *,
        ttl_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[str, tuple[Profile, float]] = {}

    async def context(self, identity: Identity) -> EvaluationContext:
        profile = await self.profile(identity)
        return evaluation_context(
            user_id=identity.user_id, email=profile.email, created_at=profile.created_at
        )

    async def profile(self, identity: Identity) -> Profile:
        now = self._clock()
        cached = self._entries.get(identity.user_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            profile = parse_profile(await self._fetch(identity))
        except DomainError as exc:  # auth down or slow: evaluate with the user id alone
            log.info("no profile for flag targeting: %s", type(exc).__name__)
            profile = Profile()
        if len(self._entries) >= MAX_ENTRIES:
            self._entries = {k: v for k, v in self._entries.items() if v[1] > now}
        ttl = self._ttl if profile.email else MISS_SECONDS
        self._entries[identity.user_id] = (profile, now + ttl)
        return profile


def fetch_from_auth(upstreams: UpstreamClient, *, secret: bytes) -> Fetch:
    """GET ``/api/v1/auth/me`` as the user, with the identity the gateway signs for them."""

    async def fetch(identity: Identity) -> bytes | None:
        signed = sign_identity(identity, secret=secret, method="GET", path=ME_PATH)
        headers = [(IDENTITY_HEADER, signed), ("accept", "application/json")]
        async with upstreams.exchange(
            "auth", method="GET", target=ME_PATH, headers=headers, body=b""
        ) as response:
            return await response.read() if response.status == 200 else None

    return fetch
