"""Forged and bent access tokens, presented to the gateway: every one is a 401 problem.

The control case signs correct claims with the real signing key (read from the auth service's
key directory, as only a test can), so a forgery refused for the wrong reason still fails here.
"""

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.integration.harness import System
from tests.support.accounts import Account, bearer, new_account
from tests.support.secrets import remember

pytestmark = pytest.mark.integration


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_json(value: dict[str, Any]) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    return json.loads(unb64(header)), json.loads(unb64(payload)), signature


def signing_key(system: System, kid: str) -> Ed25519PrivateKey:
    """The auth service's private key for ``kid`` (one PKCS#8 PEM file per key)."""
    for path in Path(system.env["AUTH_KEYS_DIR"]).glob(f"*{kid}*.pem"):
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        assert isinstance(key, Ed25519PrivateKey)
        return key
    raise AssertionError(f"no key file for kid {kid}")


class Forger:
    """Makes tokens from a real one: same claims unless told otherwise."""

    def __init__(self, system: System, token: str, jwks: dict[str, Any]) -> None:
        self.header, self.claims, self.signature = parts(token)
        self.jwk = next(k for k in jwks["keys"] if k["kid"] == self.header["kid"])
        self.key = signing_key(system, self.header["kid"])

    def signed(self, key: Ed25519PrivateKey | None = None, **changes: Any) -> str:
        claims = {**self.claims, "jti": uuid.uuid4().hex, **changes}
        token = jwt.encode(
            claims, key or self.key, algorithm="EdDSA", headers={"kid": self.header["kid"]}
        )
        remember(token)
        return token

    def unsigned(self) -> str:
        header = {"alg": "none", "typ": "JWT", "kid": self.header["kid"]}
        return f"{encode_json(header)}.{encode_json(self.claims)}."

    def hmac_with_public_key(self, secret: bytes) -> str:
        header = encode_json({"alg": "HS256", "typ": "JWT", "kid": self.header["kid"]})
        payload = encode_json(self.claims)
        mac = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{b64(mac)}"

    def with_header(self, header: Any) -> str:
        """The real payload and signature under a header of any shape, even a broken one."""
        raw = header if isinstance(header, bytes) else json.dumps(header).encode()
        return f"{b64(raw)}.{encode_json(self.claims)}.{self.signature}"

    def tampered(self, **changes: Any) -> str:
        header = encode_json(self.header)
        return f"{header}.{encode_json({**self.claims, **changes})}.{self.signature}"

    def public_key_forms(self) -> list[bytes]:
        public = self.key.public_key()
        pem = public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return [pem, raw, self.jwk["x"].encode(), json.dumps(self.jwk).encode()]


@pytest.fixture
async def forger(client: httpx.AsyncClient, system: System) -> tuple[Forger, Account]:
    account = await new_account(client)
    jwks = await client.get("/.well-known/jwks.json")
    assert jwks.status_code == 200, jwks.text
    return Forger(system, account.access_token, jwks.json()), account


async def assert_refused(client: httpx.AsyncClient, token: str) -> None:
    response = await client.get("/api/v1/tasks", headers=bearer(token))
    assert response.status_code == 401, (token[:40], response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers.get("www-authenticate", "").startswith("Bearer")


async def test_correctly_signed_claims_are_accepted(
    client: httpx.AsyncClient, forger: tuple[Forger, Account]
) -> None:
    response = await client.get("/api/v1/tasks", headers=bearer(forger[0].signed()))
    assert response.status_code == 200, response.text


FORGERIES: dict[str, Callable[[Forger], list[str]]] = {
    "alg none": lambda f: [f.unsigned()],
    "HS256 keyed with the public key": lambda f: [
        f.hmac_with_public_key(form) for form in f.public_key_forms()
    ],
    "tampered subject": lambda f: [f.tampered(sub="someone-else")],
    "tampered expiry": lambda f: [f.tampered(exp=int(time.time()) + 86_400)],
    "stripped signature": lambda f: [f.tampered()[: -len(f.signature)]],
    "wrong audience": lambda f: [f.signed(aud="another-api")],
    "wrong issuer": lambda f: [f.signed(iss="https://evil.example")],
    "expired": lambda f: [f.signed(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)],
    "not yet valid": lambda f: [f.signed(nbf=int(time.time()) + 3600)],
    "signed by a stranger's key": lambda f: [f.signed(key=Ed25519PrivateKey.generate())],
    "missing subject": lambda f: [f.signed(sub=None)],
    "malformed header": lambda f: [
        f.with_header({"alg": ["EdDSA"], "kid": f.header["kid"]}),
        f.with_header({"alg": None, "kid": f.header["kid"]}),
        f.with_header({"alg": "EdDSA", "kid": {"$ne": None}}),
        f.with_header({"alg": "EdDSA", "kid": "../../etc/passwd"}),
        f.with_header([1, 2, 3]),
        f.with_header(b"\xff\xfe not json"),
    ],
}


@pytest.mark.parametrize("attack", sorted(FORGERIES))
async def test_forged_tokens_are_refused(
    client: httpx.AsyncClient, forger: tuple[Forger, Account], attack: str
) -> None:
    for token in FORGERIES[attack](forger[0]):
        await assert_refused(client, token)


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer not.a.jwt",
        "Bearer a.b",
        "Basic dXNlcjpwYXNz",
        "Bearer " + "A" * 10_000,
    ],
)
async def test_malformed_authorization_is_refused(client: httpx.AsyncClient, header: str) -> None:
    response = await client.get("/api/v1/tasks", headers={"Authorization": header})
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_forged_identity_header_is_ignored_at_the_gateway(
    client: httpx.AsyncClient, forger: tuple[Forger, Account]
) -> None:
    forged = {"X-Taskstream-Identity": "e30.forged", "X-User-Id": forger[1].user_id}
    response = await client.get("/api/v1/tasks", headers=forged)
    assert response.status_code == 401, response.text
