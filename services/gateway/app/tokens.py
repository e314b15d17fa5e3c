"""Access-token verification against the auth service's JWKS, cached in the gateway.

The key set is fetched on first use and refreshed every ``jwks_refresh_seconds``. A token
with an unknown ``kid`` (keys were rotated) triggers one refetch, at most once every
``jwks_min_refetch_seconds`` so garbage ``kid`` values cannot hammer auth. A failed fetch
keeps the last good keys: tokens keep verifying while auth is down.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import jwt
import orjson

from services.gateway.app.errors import TokenRejected, UpstreamUnavailable
from services.gateway.app.metrics import GatewayMetrics

log = logging.getLogger("taskstream.gateway.tokens")
# Asymmetric only: "none" and HMAC (a classic key-confusion attack) are never accepted.
ALLOWED_ALGORITHMS = frozenset({"EdDSA", "RS256"})
REQUIRED_CLAIMS = ["iss", "aud", "sub", "sid", "jti", "iat", "exp"]
VERIFIED_CACHE_MAX_TOKENS = 50_000
KeySet = Mapping[str, jwt.PyJWK]


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: str
    session_id: str
    token_id: str
    issued_at: int
    expires_at: int


def parse_jwks(document: bytes) -> dict[str, jwt.PyJWK]:
    """The usable signing keys of a JWKS document, by ``kid``; others are skipped."""
    keys: dict[str, jwt.PyJWK] = {}
    for entry in orjson.loads(document).get("keys", []):
        try:
            key = jwt.PyJWK(entry)
        except jwt.PyJWTError:
            continue
        if key.key_id and key.algorithm_name in ALLOWED_ALGORITHMS:
            keys[key.key_id] = key
    return keys


def token_key_id(token: str) -> tuple[str, str]:
    """The header's ``(alg, kid)``, refusing anything but an allowed algorithm."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise TokenRejected("malformed") from exc
    alg, kid = header.get("alg"), header.get("kid")
    if not isinstance(alg, str) or alg not in ALLOWED_ALGORITHMS:
        raise TokenRejected("algorithm")
    if not isinstance(kid, str) or not kid:
        raise TokenRejected("malformed")
    return alg, kid


def verify_with_key(
    token: str, key: jwt.PyJWK, *, alg: str, issuer: str, audience: str, leeway: int
) -> AccessClaims:
    if key.algorithm_name != alg:
        raise TokenRejected("algorithm")
    try:
        claims = jwt.decode(
            token,
            key.key,
            algorithms=[alg],
            issuer=issuer,
            audience=audience,
            leeway=leeway,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenRejected("expired") from exc
    except (jwt.InvalidAudienceError, jwt.InvalidIssuerError) as exc:
        raise TokenRejected("claims") from exc
    except jwt.InvalidSignatureError as exc:
        raise TokenRejected("signature") from exc
    except jwt.PyJWTError as exc:
        raise TokenRejected("malformed") from exc
    return _claims(claims)


def _claims(claims: Mapping[str, object]) -> AccessClaims:
    parts = (claims["sub"], claims["sid"], claims["jti"], claims["iat"], claims["exp"])
    sub, sid, jti, iat, exp = parts
    if not all(isinstance(x, str) and x for x in (sub, sid, jti)):
        raise TokenRejected("claims")
    if not all(isinstance(x, int | float) for x in (iat, exp)):
        raise TokenRejected("claims")
    return AccessClaims(str(sub), str(sid), str(jti), int(iat), int(exp))  # type: ignore[call-overload]


class JwksCache:
    def __init__(
        self,
        fetch: Callable[[], Awaitable[bytes]],
        metrics: GatewayMetrics,
        *,
        refresh_seconds: float,
        min_refetch_seconds: float,
    ) -> None:
        self._fetch = fetch
        self._metrics = metrics
        self._refresh_seconds = refresh_seconds
        self._min_refetch_seconds = min_refetch_seconds
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._attempted_at = float("-inf")
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> jwt.PyJWK | None:
        now = time.monotonic()
        key = self._keys.get(kid)
        stale = now - self._fetched_at > self._refresh_seconds
        may_refetch = now - self._attempted_at >= self._min_refetch_seconds
        if (key is None or stale) and may_refetch:
            await self.refresh()
            key = self._keys.get(kid)
        elif key is None and self._lock.locked():
            # A fetch is in flight (a cold start, a rotation): its answer may hold this kid.
            async with self._lock:
                key = self._keys.get(kid)
        if key is None and not self._keys:
            # Never had a key set: the token may be fine, auth is what is missing.
            raise UpstreamUnavailable(
                "Token keys are not available yet; try again shortly.", retry_after=2
            )
        return key

    async def refresh(self) -> None:
        """Fetch the key set once, even if many requests ask at the same moment."""
        attempted = self._attempted_at
        async with self._lock:
            if self._attempted_at != attempted:
                return
            self._attempted_at = time.monotonic()
            try:
                keys = parse_jwks(await self._fetch())
            except Exception as exc:  # any failure keeps the last good keys serving
                self._metrics.jwks_refreshes.labels("failed").inc()
                log.warning(
                    "JWKS fetch failed, keeping %d cached keys: %s",
                    len(self._keys),
                    type(exc).__name__,
                )
                return
            self._keys, self._fetched_at = keys, time.monotonic()
            self._metrics.jwks_refreshes.labels("ok").inc()


class TokenVerifier:
    """Verifies access tokens, remembering good ones until they expire.

    A client sends the same token on every request for 15 minutes; its signature check is the
    largest CPU cost of the hot path, and its outcome cannot change. Revocation is not cached.
    """

    def __init__(self, jwks: JwksCache, *, issuer: str, audience: str, leeway: int) -> None:
        self._jwks = jwks
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        self._verified: dict[str, AccessClaims] = {}

    async def verify(self, token: str) -> AccessClaims:
        claims = self._verified.get(token)
        if claims is not None and claims.expires_at + self._leeway > time.time():
            return claims
        claims = await self._verify_signed(token)
        if len(self._verified) >= VERIFIED_CACHE_MAX_TOKENS:
            self._verified.clear()
        self._verified[token] = claims
        return claims

    async def _verify_signed(self, token: str) -> AccessClaims:
        alg, kid = token_key_id(token)
        key = await self._jwks.key(kid)
        if key is None:
            raise TokenRejected("unknown_key")
        return verify_with_key(
            token, key, alg=alg, issuer=self._issuer, audience=self._audience, leeway=self._leeway
        )
