"""Helpers for integration tests that need a user: register, log in, sign service identities.

Every password and token these helpers handle is recorded with ``secrets_registry.remember``
so the session's log check can prove none of them was ever logged.
"""

import secrets
import uuid
from collections.abc import Generator

import httpx

from shared.identity import IDENTITY_HEADER, Identity, sign_identity
from tests.integration.harness import System
from tests.integration.secrets_registry import Account, remember


def new_email(domain: str = "example.test") -> str:
    return f"user-{uuid.uuid4().hex[:12]}@{domain}"


def new_password() -> str:
    password = f"pw-{secrets.token_urlsafe(18)}"
    remember(password)
    return password


async def register(
    api: httpx.AsyncClient,
    *,
    email: str | None = None,
    password: str | None = None,
    name: str | None = "Tester",
) -> tuple[str, str, str]:
    """Register a user; returns ``(email, password, user id)``."""
    email, password = email or new_email(), password or new_password()
    remember(password)
    body = {"email": email, "password": password, **({"name": name} if name else {})}
    response = await api.post("/api/v1/auth/register", json=body)
    assert response.status_code == 201, response.text
    return email, password, response.json()["id"]


async def login(
    api: httpx.AsyncClient, email: str, password: str, *, user_agent: str | None = None
) -> str:
    """Log in through ``/login``; returns the access token (the cookies stay in ``api``'s jar)."""
    headers = {"User-Agent": user_agent} if user_agent else {}
    response = await api.post(
        "/api/v1/auth/login", json={"email": email, "password": password}, headers=headers
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    remember(token, *response.cookies.values())
    return token


async def new_account(api: httpx.AsyncClient) -> Account:
    """A fresh user, registered and logged in through the gateway ``api``."""
    # A mixed-case domain, so every test's account also goes through e-mail normalisation.
    email, password, user_id = await register(api, email=new_email("Example.test"))
    return Account(email, password, user_id, await login(api, email, password))


async def oauth_password_grant(
    api: httpx.AsyncClient, email: str, password: str
) -> tuple[str, str]:
    """RFC 6749 password grant; returns ``(access token, refresh token)``."""
    form = {"grant_type": "password", "username": email, "password": password}
    response = await api.post("/api/v1/auth/token", data=form)
    assert response.status_code == 200, response.text
    body = response.json()
    remember(body["access_token"], body["refresh_token"])
    return body["access_token"], body["refresh_token"]


def signed_headers(
    system: System,
    identity: Identity,
    *,
    method: str,
    path: str,
    query: bytes = b"",
    body: bytes = b"",
) -> dict[str, str]:
    """``X-Taskstream-Identity`` as the gateway would sign it, for calls straight to a service.

    The signature covers the raw query and the body: send exactly these bytes.
    """
    secret = system.env["INTERNAL_SIGNING_SECRET"].encode()
    signed = sign_identity(
        identity, secret=secret, method=method, path=path, query=query, body=body
    )
    return {"X-Taskstream-Identity": signed}


class SignedAs(httpx.Auth):
    """Signs each request as the gateway would, over the exact method, path, query and body."""

    requires_request_body = True

    def __init__(self, system: System, identity: Identity) -> None:
        self.secret = system.env["INTERNAL_SIGNING_SECRET"].encode()
        self.identity = identity

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[IDENTITY_HEADER] = sign_identity(
            self.identity,
            secret=self.secret,
            method=request.method,
            path=request.url.path,
            query=request.url.query,
            body=request.content,
        )
        yield request
