"""Tokens the auth service hands out: access JWTs, refresh tokens, CSRF tokens, API keys.

Refresh tokens and API keys are 256-bit random strings, so a plain SHA-256 of them is a safe
thing to store and look up (a slow hash would add nothing against guessing).
"""

import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

import jwt

from services.auth.app.keys import ALGORITHM, SigningKey

API_KEY_PREFIX = "tsk"


@dataclass(frozen=True)
class AccessToken:
    token: str
    jti: str
    expires_in: int


def mint_access_token(
    *,
    key: SigningKey,
    user_id: str,
    session_id: str,
    issuer: str,
    audience: str,
    ttl_seconds: int,
    now: int,
) -> AccessToken:
    jti = uuid.uuid4().hex
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": user_id,
        "sid": session_id,
        "jti": jti,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    token = jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})
    return AccessToken(token=token, jti=jti, expires_in=ttl_seconds)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def csrf_token_for(refresh_token: str, *, key: bytes) -> str:
    """A CSRF token bound to one refresh token, so a planted cookie pair does not verify."""
    mac = hmac.new(key, b"csrf\n" + refresh_token.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def csrf_matches(*, header: str | None, cookie: str | None, refresh_token: str, key: bytes) -> bool:
    if not header or not cookie:
        return False
    # Bytes, because compare_digest refuses non-ASCII str and headers may carry any latin-1.
    presented = header.encode()
    expected = csrf_token_for(refresh_token, key=key).encode()
    return hmac.compare_digest(presented, cookie.encode()) and hmac.compare_digest(
        presented, expected
    )


def new_api_key() -> tuple[str, str]:
    """A fresh key and its visible prefix (``tsk_<8 chars>``), which is part of the key."""
    prefix = f"{API_KEY_PREFIX}_{secrets.token_hex(4)}"
    return f"{prefix}_{new_secret()}", prefix
