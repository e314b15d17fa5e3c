"""API keys through the gateway, the gateway's resolve call, and per-address throttling."""

import secrets
from collections.abc import Iterator

import httpx
import pytest

from deploy.local.services import ServiceProcess
from shared.identity import ANONYMOUS, Identity
from tests.integration.harness import LOG_DIR, System, free_port
from tests.integration.helpers import new_account, register, signed_headers
from tests.integration.secrets_registry import RETIRED_PROCESSES, remember

pytestmark = pytest.mark.integration
RESOLVE = "/internal/v1/api-keys/resolve"
ADDRESS_LIMIT = 5


async def create_key(
    client: httpx.AsyncClient, headers: dict[str, str], **body: object
) -> dict[str, str]:
    response = await client.post(
        "/api/v1/auth/api-keys", json={"name": "ci", **body}, headers=headers
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
    assert set(created) == {"id", "name", "prefix", "key", "created_at", "expires_at"}
    assert created["key"].startswith(created["prefix"])
    assert created["expires_at"] is not None
    listed = await client.get("/api/v1/auth/api-keys", headers=account.headers)
    assert listed.status_code == 200
    (item,) = listed.json()["items"]
    assert set(item) == {"id", "name", "prefix", "created_at", "expires_at"}
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
    [{}, {"name": ""}, {"name": "x", "expires_in_days": 0}, {"name": "x", "scopes": ["all"]}],
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
            headers = (
                signed_headers(system, identity, method="POST", path=RESOLVE) if identity else {}
            )
            return await direct.post(RESOLVE, json={"key": key}, headers=headers)

        assert (await resolve(None, created["key"])).status_code == 401
        assert (await resolve(user, created["key"])).status_code == 403
        assert (await resolve(gateway, created["key"] + "x")).status_code == 401
        resolved = await resolve(gateway, created["key"])
        assert resolved.status_code == 200, resolved.text
        assert resolved.json() == {
            "user_id": account.user_id,
            "key_id": created["id"],
            "expires_at": None,
        }


@pytest.fixture(scope="module")
def strict_auth(system: System) -> Iterator[ServiceProcess]:
    """An extra auth replica with a low per-address limit, reached directly."""
    env = {**system.env, "AUTH_LOGIN_MAX_FAILURES_PER_ADDRESS": str(ADDRESS_LIMIT)}
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
    # Documentation-range addresses, new per run, so earlier runs' counts cannot interfere.
    address = f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"
    vouched = Identity(user_id=ANONYMOUS, via="service", client_ip=address)
    path = "/api/v1/auth/login"
    async with httpx.AsyncClient(base_url=strict_auth.url) as direct:
        email, password, _ = await register(direct)

        async def attempt(email: str, password: str) -> httpx.Response:
            headers = signed_headers(system, vouched, method="POST", path=path)
            return await direct.post(
                path, json={"email": email, "password": password}, headers=headers
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
        other = Identity(user_id=ANONYMOUS, via="service", client_ip=f"{address}:1")
        headers = signed_headers(system, other, method="POST", path=path)
        fine = await direct.post(path, json={"email": email, "password": password}, headers=headers)
        assert fine.status_code == 200, fine.text
        remember(fine.json()["access_token"])
