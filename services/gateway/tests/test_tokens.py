"""The access-token verifier refuses every token it should and keeps keys through outages."""

import asyncio
import base64
import hashlib
import hmac
import time
from typing import Any

import jwt
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm
from prometheus_client import CollectorRegistry

from services.gateway.app import tokens
from services.gateway.app.errors import TokenRejected, UpstreamUnavailable
from services.gateway.app.metrics import GatewayMetrics
from services.gateway.app.tokens import AccessClaims, JwksCache, TokenVerifier

ISSUER, AUDIENCE = "taskstream", "taskstream-api"


class Signer:
    def __init__(self, kid: str) -> None:
        self.kid = kid
        self.private = Ed25519PrivateKey.generate()

    def jwk(self) -> dict[str, Any]:
        entry: dict[str, Any] = orjson.loads(OKPAlgorithm.to_jwk(self.private.public_key()))
        return {**entry, "kid": self.kid, "alg": "EdDSA", "use": "sig"}

    def token(self, **overrides: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "user-1",
            "sid": "session-1",
            "jti": "token-1",
            "iat": now,
            "exp": now + 900,
            **overrides,
        }
        return jwt.encode(claims, self.private, algorithm="EdDSA", headers={"kid": self.kid})


class FakeAuth:
    """Serves a JWKS document and counts fetches; ``down`` makes fetches fail."""

    def __init__(self, *signers: Signer) -> None:
        self.signers = list(signers)
        self.fetches = 0
        self.down = False

    async def fetch(self) -> bytes:
        self.fetches += 1
        if self.down:
            raise ConnectionError("auth is down")
        return orjson.dumps({"keys": [s.jwk() for s in self.signers]})


def make_verifier(auth: FakeAuth, *, min_refetch: float = 0.0) -> TokenVerifier:
    metrics = GatewayMetrics(CollectorRegistry())
    jwks = JwksCache(auth.fetch, metrics, refresh_seconds=300, min_refetch_seconds=min_refetch)
    return TokenVerifier(jwks, issuer=ISSUER, audience=AUDIENCE, leeway=5)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def reason_of(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(TokenRejected) as caught:
        await verifier.verify(token)
    return caught.value.reason


async def test_a_good_token_gives_its_claims() -> None:
    signer = Signer("k1")
    claims = await make_verifier(FakeAuth(signer)).verify(signer.token(jti="abc"))
    assert isinstance(claims, AccessClaims)
    assert (claims.user_id, claims.session_id, claims.token_id) == ("user-1", "session-1", "abc")


async def test_alg_none_is_refused() -> None:
    signer = Signer("k1")
    header = b64(orjson.dumps({"alg": "none", "kid": "k1", "typ": "JWT"}))
    payload = signer.token().split(".")[1]
    assert await reason_of(make_verifier(FakeAuth(signer)), f"{header}.{payload}.") == "algorithm"


async def test_hs256_signed_with_the_public_key_is_refused() -> None:
    signer = Signer("k1")
    public_key = signer.private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    header = b64(orjson.dumps({"alg": "HS256", "kid": "k1", "typ": "JWT"}))
    payload = signer.token().split(".")[1]
    mac = hmac.new(public_key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    forged = f"{header}.{payload}.{b64(mac)}"
    assert await reason_of(make_verifier(FakeAuth(signer)), forged) == "algorithm"


async def test_a_tampered_payload_is_refused() -> None:
    signer = Signer("k1")
    header, _, signature = signer.token().split(".")
    evil = b64(orjson.dumps({"iss": ISSUER, "aud": AUDIENCE, "sub": "admin", "sid": "s", "jti": "j",
                             "iat": int(time.time()), "exp": int(time.time()) + 900}))  # fmt: skip
    assert (
        await reason_of(make_verifier(FakeAuth(signer)), f"{header}.{evil}.{signature}")
        == "signature"
    )


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"exp": int(time.time()) - 60}, "expired"),
        ({"aud": "someone-else"}, "claims"),
        ({"iss": "evil"}, "claims"),
        ({"sub": ""}, "claims"),
    ],
)
async def test_bad_claims_are_refused(overrides: dict[str, Any], reason: str) -> None:
    signer = Signer("k1")
    assert await reason_of(make_verifier(FakeAuth(signer)), signer.token(**overrides)) == reason


async def test_a_token_without_a_session_is_refused() -> None:
    signer = Signer("k1")
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "u", "jti": "j", "iat": now, "exp": now + 60}
    token = jwt.encode(claims, signer.private, algorithm="EdDSA", headers={"kid": "k1"})
    assert await reason_of(make_verifier(FakeAuth(signer)), token) == "malformed"


async def test_an_expired_token_within_the_leeway_still_verifies() -> None:
    signer = Signer("k1")
    await make_verifier(FakeAuth(signer)).verify(signer.token(exp=int(time.time()) - 2))


async def test_garbage_is_malformed() -> None:
    assert await reason_of(make_verifier(FakeAuth(Signer("k1"))), "not.a.jwt") == "malformed"


@pytest.mark.parametrize("header", [{"alg": ["EdDSA"], "kid": "k1"}, {"alg": "EdDSA", "kid": 7}])
async def test_odd_header_types_are_refused_not_crashed(header: dict[str, Any]) -> None:
    signer = Signer("k1")
    _, payload, signature = signer.token().split(".")
    token = f"{b64(orjson.dumps(header))}.{payload}.{signature}"
    assert await reason_of(make_verifier(FakeAuth(signer)), token) in ("algorithm", "malformed")


async def test_a_rotated_key_is_fetched_once_on_its_unknown_kid() -> None:
    old, new = Signer("k1"), Signer("k2")
    auth = FakeAuth(old)
    verifier = make_verifier(auth)
    await verifier.verify(old.token())
    auth.signers.append(new)
    await verifier.verify(new.token())
    assert auth.fetches == 2
    await verifier.verify(old.token())
    assert auth.fetches == 2


async def test_requests_during_the_first_fetch_wait_for_it() -> None:
    signer = Signer("k1")
    auth = FakeAuth(signer)
    release = asyncio.Event()
    plain_fetch = auth.fetch

    async def slow_fetch() -> bytes:
        await release.wait()
        return await plain_fetch()

    metrics = GatewayMetrics(CollectorRegistry())
    jwks = JwksCache(slow_fetch, metrics, refresh_seconds=300, min_refetch_seconds=60)
    verifier = TokenVerifier(jwks, issuer=ISSUER, audience=AUDIENCE, leeway=5)
    waiting = [asyncio.create_task(verifier.verify(signer.token(jti=f"t{i}"))) for i in range(5)]
    await asyncio.sleep(0.01)
    release.set()
    claims = await asyncio.gather(*waiting)
    assert [c.token_id for c in claims] == [f"t{i}" for i in range(5)]
    assert auth.fetches == 1


async def test_unknown_kid_refetches_are_rate_limited() -> None:
    signer = Signer("k1")
    auth = FakeAuth(signer)
    verifier = make_verifier(auth, min_refetch=60)
    stranger = Signer("nobody-knows-me")
    for _ in range(5):
        assert await reason_of(verifier, stranger.token()) == "unknown_key"
    assert auth.fetches == 1


async def test_no_key_set_yet_is_503_not_401() -> None:
    signer = Signer("k1")
    auth = FakeAuth(signer)
    auth.down = True
    with pytest.raises(UpstreamUnavailable):
        await make_verifier(auth).verify(signer.token())


async def test_last_good_keys_keep_verifying_while_auth_is_down() -> None:
    signer = Signer("k1")
    auth = FakeAuth(signer)
    verifier = make_verifier(auth)
    await verifier.verify(signer.token())
    auth.down = True
    assert await reason_of(verifier, Signer("k9").token()) == "unknown_key"
    await verifier.verify(signer.token())


async def test_a_verified_token_is_checked_again_only_after_it_expires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    signer = Signer("k1")
    verifier = make_verifier(FakeAuth(signer))
    checks: list[str] = []
    real_check = tokens.verify_with_key

    def counting_check(token: str, key: jwt.PyJWK, **kwargs: Any) -> AccessClaims:
        checks.append(token)
        return real_check(token, key, **kwargs)

    monkeypatch.setattr(tokens, "verify_with_key", counting_check)
    token = signer.token(exp=int(time.time()) + 60)
    await verifier.verify(token)
    await verifier.verify(token)
    assert len(checks) == 1
    later = time.time() + 120
    monkeypatch.setattr(time, "time", lambda: later)
    await verifier.verify(token)
    assert len(checks) == 2
