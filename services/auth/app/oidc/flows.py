"""Sign-in flows in progress: what the callback needs, kept in Redis, single use, one browser.

Each flow is stored under a hash of its ``state`` for ``ttl_seconds`` (10 minutes), with its
nonce, PKCE verifier, return path and the hash of the browser's binding cookie. Taking a flow
checks the cookie first and only then deletes it (``GETDEL``): a request from another browser
learns nothing and does not burn the owner's flow, and of two callbacks with one state exactly
one gets it.
"""

import hashlib
import hmac
import secrets
from dataclasses import asdict, dataclass

import orjson
from redis.asyncio import Redis


def flow_key(state: str) -> str:
    # Hashed: Redis (and anything that dumps its keys) never holds a usable state value.
    return f"auth:oidc:flow:{digest(state)}"


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_flow_secret() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class PendingFlow:
    provider: str
    nonce: str
    code_verifier: str
    return_to: str
    browser_digest: str
    link_user_id: str | None = None

    def started_by(self, browser: str | None) -> bool:
        return browser is not None and hmac.compare_digest(
            self.browser_digest.encode(), digest(browser).encode()
        )


class WrongBrowser(Exception):
    """The flow exists but the request does not carry the cookie of the browser that began it."""


class PendingFlows:
    def __init__(self, redis: Redis, *, ttl_seconds: int) -> None:
        self.redis = redis
        self.ttl_seconds = ttl_seconds

    async def save(self, state: str, flow: PendingFlow) -> None:
        await self.redis.set(flow_key(state), orjson.dumps(asdict(flow)), ex=self.ttl_seconds)

    async def take(self, state: str, *, browser: str | None) -> PendingFlow | None:
        """The flow for ``state``, removed; None if unknown, expired or already taken."""
        key = flow_key(state)
        raw = await self.redis.get(key)
        if raw is None:
            return None
        flow = PendingFlow(**orjson.loads(raw))
        if not flow.started_by(browser):
            raise WrongBrowser
        if await self.redis.getdel(key) is None:  # another callback took it meanwhile
            return None
        return flow
