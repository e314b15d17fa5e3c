"""The identity the gateway hands to services, signed so a service can check it.

The gateway authenticates a request (JWT or API key), strips any identity headers the client
sent, and adds ``X-Taskstream-Identity``: a base64url JSON payload and an HMAC-SHA256 over the
method, the path, the raw query, a SHA-256 of the body and that payload, keyed by a key derived
from ``INTERNAL_SIGNING_SECRET`` for this purpose alone. A service refuses a request whose
header is missing, forged, made for another request (method, path, query or body), or older
than ``MAX_AGE``, so reaching a service port directly does not let anyone act as someone else,
and a captured header cannot carry another body or query within its minute.
"""

import base64
import hashlib
import hmac
import time
from typing import Annotated, Literal

import orjson
from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError

from shared.derived_keys import derive_key
from shared.problems import DomainError

IDENTITY_HEADER = "x-taskstream-identity"
MAX_AGE_SECONDS = 60
KEY_PURPOSE = "internal-identity"


class Identity(BaseModel, frozen=True):
    """Who is calling. ``via`` says how the gateway authenticated them."""

    user_id: str
    via: Literal["jwt", "api_key", "service"]
    session_id: str | None = None
    token_id: str | None = None
    token_expires_at: int | None = None
    api_key_id: str | None = None
    client_ip: str | None = None
    issued_at: int = 0


ANONYMOUS = "anonymous"


class InvalidIdentity(DomainError):
    """No valid gateway-signed identity came with the request."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


BoundRequest = tuple[str, str, bytes, bytes]  # method, path, raw query, body


def _mac(secret: bytes, request: BoundRequest, payload: str) -> str:
    key = derive_key(secret, KEY_PURPOSE)
    method, path, query, body = request
    digest = hashlib.sha256(body).hexdigest()
    head = f"{method.upper()} {path}?".encode() + query + f"\n{digest}\n{payload}".encode()
    return _b64(hmac.new(key, head, hashlib.sha256).digest())


def sign_identity(
    identity: Identity,
    *,
    secret: bytes,
    method: str,
    path: str,
    query: bytes = b"",
    body: bytes = b"",
) -> str:
    """The header for one request: ``query`` is the raw query string, ``body`` the exact bytes."""
    # The same JSON as a stamped copy's dump, without building the copy (a hot path).
    fields = {**identity.model_dump(exclude_none=True), "issued_at": int(time.time())}
    payload = _b64(orjson.dumps(fields))
    return f"{payload}.{_mac(secret, (method, path, query, body), payload)}"


def verify_identity(
    header: str | None,
    *,
    secret: bytes,
    method: str,
    path: str,
    query: bytes = b"",
    body: bytes = b"",
) -> Identity:
    if not header or header.count(".") != 1:
        raise InvalidIdentity("Authentication required.")
    payload, mac = header.split(".")
    expected = _mac(secret, (method, path, query, body), payload).encode()
    # Bytes, not str: compare_digest raises on non-ASCII text, and headers are client input.
    if not hmac.compare_digest(mac.encode("utf-8", "replace"), expected):
        raise InvalidIdentity("Authentication required.")
    try:
        identity = Identity.model_validate(orjson.loads(_unb64(payload)))
    except (ValueError, ValidationError) as exc:
        raise InvalidIdentity("Authentication required.") from exc
    if abs(time.time() - identity.issued_at) > MAX_AGE_SECONDS:
        raise InvalidIdentity("Authentication required.")
    return identity


async def _verify_request(request: Request) -> Identity:
    secret: bytes = request.app.state.settings.internal_signing_secret.get_secret_value().encode()
    # Starlette keeps the body it read, so the route still gets it afterwards.
    return verify_identity(
        request.headers.get(IDENTITY_HEADER),
        secret=secret,
        method=request.method,
        path=request.url.path,
        query=request.scope.get("query_string", b""),
        body=await request.body(),
    )


async def require_identity(request: Request) -> Identity:
    """FastAPI dependency: the verified user, or ``InvalidIdentity`` (mapped to 401)."""
    identity = await _verify_request(request)
    if identity.user_id == ANONYMOUS:
        raise InvalidIdentity("Authentication required.")
    return identity


async def optional_identity(request: Request) -> Identity | None:
    """For public routes: what the gateway vouches for (the client address), if anything."""
    try:
        return await _verify_request(request)
    except InvalidIdentity:
        return None


def client_address(request: Request, identity: Identity | None) -> str:
    """The caller's address as the gateway saw it; the socket peer when called directly."""
    if identity is not None and identity.client_ip:
        return identity.client_ip
    return request.client.host if request.client else "unknown"


CurrentIdentity = Annotated[Identity, Depends(require_identity)]
GatewayVouched = Annotated[Identity | None, Depends(optional_identity)]
