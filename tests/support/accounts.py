"""Users for the system-level tests: register, log in, an ``Account`` to call the API as.

Every password and token these helpers handle is recorded with ``secrets.remember`` so the
session's log check can prove none of them was ever logged.
"""

import secrets
import uuid
from dataclasses import dataclass

import httpx

from tests.support.secrets import remember


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Account:
    """A registered, logged-in user, as ``new_account`` makes one."""

    email: str
    password: str
    user_id: str
    access_token: str

    @property
    def headers(self) -> dict[str, str]:
        """``Authorization: Bearer <access token>``."""
        return bearer(self.access_token)


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
