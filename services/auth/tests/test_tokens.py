"""Access tokens, CSRF binding and API-key format, checked without any network."""

import time
from pathlib import Path

import jwt
import pytest

from services.auth.app.keys import KeyRing
from services.auth.app.tokens import (
    csrf_matches,
    csrf_token_for,
    mint_access_token,
    new_api_key,
    secret_digest,
)

KEY = b"0123456789abcdef0123456789abcdef"


@pytest.fixture
def ring(tmp_path: Path) -> KeyRing:
    keyring = KeyRing(tmp_path, token_ttl=900)
    keyring.ensure_key()
    return keyring


def decode(ring: KeyRing, token: str) -> dict[str, object]:
    """Verify as the gateway would: the kid picks a key from the JWKS."""
    kid = jwt.get_unverified_header(token)["kid"]
    (jwk,) = [k for k in ring.jwks()["keys"] if k["kid"] == kid]
    public_key = jwt.PyJWK(jwk).key
    claims: dict[str, object] = jwt.decode(
        token, public_key, algorithms=["EdDSA"], audience="taskstream-api", issuer="taskstream"
    )
    return claims


def test_access_token_carries_the_agreed_claims(ring: KeyRing) -> None:
    access = mint_access_token(
        key=ring.current(),
        user_id="u1",
        session_id="s1",
        issuer="taskstream",
        audience="taskstream-api",
        ttl_seconds=900,
        now=2_000_000_000,
    )
    assert jwt.get_unverified_header(access.token)["alg"] == "EdDSA"
    claims = jwt.decode(access.token, options={"verify_signature": False})
    assert claims == {
        "iss": "taskstream",
        "aud": "taskstream-api",
        "sub": "u1",
        "sid": "s1",
        "jti": access.jti,
        "iat": 2_000_000_000,
        "exp": 2_000_000_900,
    }


def test_access_token_verifies_against_the_published_key(ring: KeyRing) -> None:
    access = mint_access_token(
        key=ring.current(),
        user_id="u1",
        session_id="s1",
        issuer="taskstream",
        audience="taskstream-api",
        ttl_seconds=900,
        now=int(time.time()),
    )
    assert decode(ring, access.token)["sub"] == "u1"
    tampered = access.token[:-4] + ("AAAA" if not access.token.endswith("AAAA") else "BBBB")
    with pytest.raises(jwt.InvalidSignatureError):
        decode(ring, tampered)


def test_csrf_token_is_bound_to_its_refresh_token() -> None:
    csrf = csrf_token_for("refresh-1", key=KEY)
    assert csrf_matches(header=csrf, cookie=csrf, refresh_token="refresh-1", key=KEY)
    assert not csrf_matches(header=csrf, cookie=csrf, refresh_token="refresh-2", key=KEY)
    assert not csrf_matches(header=None, cookie=csrf, refresh_token="refresh-1", key=KEY)
    assert not csrf_matches(header=csrf, cookie="other", refresh_token="refresh-1", key=KEY)


def test_api_keys_are_long_random_and_start_with_their_prefix() -> None:
    (key_a, prefix_a), (key_b, _) = new_api_key(), new_api_key()
    assert key_a.startswith(prefix_a + "_")
    assert prefix_a.startswith("tsk_")
    assert len(prefix_a) == len("tsk_") + 8
    assert len(key_a) > 50
    assert key_a != key_b


def test_secret_digest_is_stable_and_hides_the_secret() -> None:
    assert secret_digest("abc") == secret_digest("abc") != secret_digest("abd")
    assert "abc" not in secret_digest("abc")


def test_csrf_check_refuses_non_ascii_instead_of_crashing() -> None:
    assert not csrf_matches(header="é", cookie="é", refresh_token="refresh-1", key=KEY)
