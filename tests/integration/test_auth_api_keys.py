"""API keys through the gateway, the gateway's resolve call, and per-address throttling.

Keys carry scopes the gateway enforces, expire (90 days by default, 365 at most), can only be
made by a recent sign-in or with the password, never by another key, and ``logout-all`` can
revoke them all (issue #19: a stolen access token must not mint a credential that outlives
the panic button).
"""

import asyncio
import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from deploy.local.services import ServiceProcess
from shared.identity import ANONYMOUS, Identity
from tests.integration.harness import LOG_DIR, System, free_port
from tests.support.accounts import Account, login, new_account, register
from tests.support.identities import SignedAs
from tests.support.processes import RETIRED_PROCESSES
from tests.support.secrets import remember

pytestmark = pytest.mark.integration
RESOLVE = "/internal/v1/api-keys/resolve"
KEYS = "/api/v1/auth/api-keys"
ADDRESS_LIMIT = 5
ALL_SCOPES = ["tasks:read", "tasks:write", "search:read"]


async def create_key(
    client: httpx.AsyncClient, headers: dict[str, str], **body: object
) -> dict[str, Any]:
    response = await client.post(
        KEYS, json={"name": "ci", "scopes": ALL_SCOPES, **body}, headers=headers
    )
    assert response.status_code == 201, response.text
    created: dict[str, str] = response.json()
    remember(created["key"])
    return created


async def test_a_key_is_shown_once_works_and_stops_at_once_when_deleted(
    client: httpx.AsyncClient,
) -> None:
    account = await new_account(client)
    created = await create_key(client, account.headers, expires_in_days=30)
    assert set(created) == {"id", "name", "prefix", "key", "scopes", "created_at", "expires_at"}
    assert created["key"].startswith(created["prefix"])
    assert lifetime(created) == timedelta(days=30)
    listed = await client.get("/api/v1/auth/api-keys", headers=account.headers)
    assert listed.status_code == 200
    (item,) = listed.json()["items"]
    assert set(item) == {"id", "name", "prefix", "scopes", "created_at", "expires_at"}
    assert created["key"] not in listed.text

    with_key = {"X-API-Key": created["key"]}
    me = await client.get("/api/v1/auth/me", headers=with_key)
    assert me.status_code == 200, me.text
    assert me.json()["id"] == account.user_id

    deleted = await client.delete(f"/api/v1/auth/api-keys/{created['id']}", headers=account.headers)
    assert deleted.status_code == 204
    # The gateway caches resolved keys, but a deleted one must stop on the very next request.
    assert (await client.get("/api/v1/auth/me", headers=with_key)).status_code == 401
    assert (await client.get("/api/v1/auth/api-keys", headers=account.headers)).json() == {
        "items": []
    }


async def test_keys_belong_to_their_owner(client: httpx.AsyncClient) -> None:
    owner, stranger = await new_account(client), await new_account(client)
    created = await create_key(client, owner.headers)
    path = f"/api/v1/auth/api-keys/{created['id']}"
    assert (await client.delete(path, headers=stranger.headers)).status_code == 404
    listed = await client.get("/api/v1/auth/api-keys", headers=stranger.headers)
    assert listed.json() == {"items": []}
    assert (await client.get("/api/v1/auth/me", headers={"X-API-Key": created["key"]})).json()[
        "id"
    ] == owner.user_id


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "x", "scopes": ["tasks:read"], "expires_in_days": 0},
        {"name": "x", "scopes": ["tasks:read"], "expires_in_days": 366},
        {"name": "x", "scopes": ["tasks:read"], "expires_in_days": None},
        {"name": "x", "scopes": ["all"]},
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["tasks:read", "tasks:read"]},
        {"name": "x"},
    ],
)
async def test_bad_key_requests_are_422(client: httpx.AsyncClient, body: dict[str, object]) -> None:
    account = await new_account(client)
    response = await client.post("/api/v1/auth/api-keys", json=body, headers=account.headers)
    assert response.status_code == 422, response.text
    assert (await client.get("/api/v1/auth/api-keys", headers=account.headers)).json() == {
        "items": []
    }


async def test_resolve_is_for_the_gateway_only(client: httpx.AsyncClient, system: System) -> None:
    account = await new_account(client)
    created = await create_key(client, account.headers)
    gateway = Identity(user_id="gateway", via="service")
    user = Identity(user_id=account.user_id, via="jwt")
    async with httpx.AsyncClient(base_url=system.one("auth").url) as direct:

        async def resolve(identity: Identity | None, key: str) -> httpx.Response:
            if identity is None:
                return await direct.post(RESOLVE, json={"key": key})
            return await direct.post(RESOLVE, json={"key": key}, auth=SignedAs(system, identity))

        assert (await resolve(None, created["key"])).status_code == 401
        assert (await resolve(user, created["key"])).status_code == 403
        assert (await resolve(gateway, created["key"] + "x")).status_code == 401
        resolved = await resolve(gateway, created["key"])
        assert resolved.status_code == 200, resolved.text
        assert resolved.json() == {
            "user_id": account.user_id,
            "key_id": created["id"],
            "scopes": sorted(ALL_SCOPES),
            "expires_at": created["expires_at"],
        }


@pytest.fixture(scope="module")
def strict_auth(system: System) -> Iterator[ServiceProcess]:
    """An extra auth replica with a low per-address limit, reached directly."""
    env = {
        **system.env,
        "AUTH_LOGIN_MAX_FAILURES_PER_ADDRESS": str(ADDRESS_LIMIT),
        "AUTH_API_KEY_RECENT_AUTH_SECONDS": "1",
    }
    replica = ServiceProcess("auth", free_port(), env, LOG_DIR, replica=99)
    replica.start()
    RETIRED_PROCESSES.append(replica)
    try:
        replica.wait_ready()
        yield replica
    finally:
        replica.stop()


async def test_failures_from_one_address_reach_429(
    system: System, strict_auth: ServiceProcess
) -> None:
    # Documentation-range addresses in a /64 new per run (IPv6 counts per /64), so earlier
    # runs' counts cannot interfere.
    prefix = f"2001:db8:{secrets.token_hex(2)}:{secrets.token_hex(2)}"
    address = f"{prefix}::{secrets.token_hex(2)}"
    path = "/api/v1/auth/login"
    async with httpx.AsyncClient(base_url=strict_auth.url) as direct:
        email, password, _ = await register(direct)

        async def attempt(email: str, password: str, *, source: str = address) -> httpx.Response:
            identity = Identity(user_id=ANONYMOUS, via="service", client_ip=source)
            return await direct.post(
                path, json={"email": email, "password": password}, auth=SignedAs(system, identity)
            )

        # Different accounts each time: only the address links these failures. The attacker's
        # own successful logins in between must not buy more guesses.
        for n in range(ADDRESS_LIMIT):
            own = await attempt(email, password)
            assert own.status_code == 200, own.text
            remember(own.json()["access_token"])
            guess = await attempt(f"nobody-{n}-{secrets.token_hex(4)}@x.test", "wrong password")
            assert guess.status_code == 401
        throttled = await attempt(email, password)
        assert throttled.status_code == 429, throttled.text
        assert int(throttled.headers["retry-after"]) > 0
        # The same /64 is the same client; the next /64 is another one.
        neighbour = await attempt(email, password, source=f"{prefix}::ffff")
        assert neighbour.status_code == 429, neighbour.text
        other_net = f"{prefix[:-1]}{(int(prefix[-1], 16) + 1) % 16:x}::1"
        fine = await attempt(email, password, source=other_net)
        assert fine.status_code == 200, fine.text
        remember(fine.json()["access_token"])


def lifetime(key: dict[str, Any]) -> timedelta:
    created = datetime.fromisoformat(key["created_at"])
    return datetime.fromisoformat(key["expires_at"]) - created


async def test_a_key_without_an_expiry_gets_90_days(client: httpx.AsyncClient) -> None:
    account = await new_account(client)
    created = await create_key(client, account.headers)
    assert lifetime(created) == timedelta(days=90)
    assert created["scopes"] == sorted(ALL_SCOPES)


async def test_the_gateway_enforces_a_keys_scopes(client: httpx.AsyncClient) -> None:
    account = await new_account(client)
    reader = {
        "X-API-Key": (await create_key(client, account.headers, scopes=["tasks:read"]))["key"]
    }
    searcher = {
        "X-API-Key": (await create_key(client, account.headers, scopes=["search:read"]))["key"]
    }
    assert (await client.get("/api/v1/tasks", headers=reader)).status_code == 200
    for method, path, headers in (
        ("POST", "/api/v1/tasks", reader),
        ("GET", "/api/v1/search?q=x", reader),
        ("GET", "/api/v1/tasks", searcher),
    ):
        refused = await client.request(method, path, json={"title": "x"}, headers=headers)
        assert refused.status_code == 403, (method, path, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
        assert "scope" in refused.json()["detail"]
    assert (await client.get("/api/v1/search?q=x", headers=searcher)).status_code == 200
    listed = await client.get("/api/v1/tasks", headers=account.headers)
    assert listed.json()["items"] == []  # the refused write never reached tasks


async def test_a_key_can_never_manage_keys_or_sessions(client: httpx.AsyncClient) -> None:
    account = await new_account(client)
    created = await create_key(client, account.headers)
    with_key = {"X-API-Key": created["key"]}
    for method, path, body in (
        ("POST", KEYS, {"name": "child", "scopes": ["tasks:read"]}),
        ("GET", KEYS, None),
        ("DELETE", f"{KEYS}/{created['id']}", None),
        ("GET", "/api/v1/auth/sessions", None),
        ("POST", "/api/v1/auth/logout-all", {"revoke_api_keys": True}),
    ):
        refused = await client.request(method, path, json=body, headers=with_key)
        assert refused.status_code == 403, (method, path, refused.text)
    listed = await client.get(KEYS, headers=account.headers)
    assert [key["id"] for key in listed.json()["items"]] == [created["id"]]


async def test_logout_all_can_revoke_every_key_and_the_sessions_page_lists_them(
    client: httpx.AsyncClient,
) -> None:
    account = await new_account(client)
    kept = await create_key(client, account.headers, name="kept")
    sessions = await client.get("/api/v1/auth/sessions", headers=account.headers)
    assert [key["id"] for key in sessions.json()["api_keys"]] == [kept["id"]]
    assert (
        await client.post("/api/v1/auth/logout-all", headers=account.headers)
    ).status_code == 204
    # Without the flag, keys are the owner's to keep; they see them on the sessions page.
    assert (
        await client.get("/api/v1/tasks", headers={"X-API-Key": kept["key"]})
    ).status_code == 200

    token = await login(client, account.email, account.password)
    again = Account(account.email, account.password, account.user_id, token)
    doomed = await create_key(client, again.headers, name="doomed")
    panic = await client.post(
        "/api/v1/auth/logout-all", json={"revoke_api_keys": True}, headers=again.headers
    )
    assert panic.status_code == 204, panic.text
    for key in (kept, doomed):
        refused = await client.get("/api/v1/tasks", headers={"X-API-Key": key["key"]})
        assert refused.status_code == 401, refused.text
    token = await login(client, account.email, account.password)
    listed = await client.get(KEYS, headers={"Authorization": f"Bearer {token}"})
    assert listed.json() == {"items": []}


async def test_creating_a_key_needs_a_recent_sign_in_or_the_password(
    client: httpx.AsyncClient, system: System, strict_auth: ServiceProcess
) -> None:
    # The strict replica counts a sign-in as recent for 1 s only, so a session of 1.5 s is old.
    account = await new_account(client)
    session_id = str(jwt.decode(account.access_token, options={"verify_signature": False})["sid"])
    await asyncio.sleep(1.5)
    # An address of its own: the strict replica's per-address limit is low and shared by runs.
    address = f"2001:db8:{secrets.token_hex(2)}:{secrets.token_hex(2)}::1"
    user = {"user_id": account.user_id, "client_ip": address}
    by_token = SignedAs(system, Identity(**user, via="jwt", session_id=session_id))
    by_key = SignedAs(system, Identity(**user, via="api_key", api_key_id="k"))
    body = {"name": "late", "scopes": ["tasks:read"]}
    async with httpx.AsyncClient(base_url=strict_auth.url) as direct:
        stale = await direct.post(KEYS, json=body, auth=by_token)
        wrong = await direct.post(
            KEYS, json={**body, "password": "not-the-password"}, auth=by_token
        )
        from_key = await direct.post(KEYS, json={**body, "password": account.password}, auth=by_key)
        fine = await direct.post(KEYS, json={**body, "password": account.password}, auth=by_token)
    for refused in (stale, wrong, from_key):
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
    assert fine.status_code == 201, fine.text
    remember(fine.json()["key"])
