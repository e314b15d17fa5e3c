"""The whole journey of a user, through the gateway only, against the real stack."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from tests.integration.harness import System
from tests.support.accounts import Account, bearer, login, new_account
from tests.support.polling import Observation, eventually
from tests.support.processes import retire
from tests.support.search import search_total, unique_word
from tests.support.secrets import gateway_client, remember
from tests.support.tasks import create_task

pytestmark = pytest.mark.integration
SEARCHABLE_WITHIN_S = 5.0
# AUTH_REFRESH_REUSE_GRACE_SECONDS' default: a replay later than this is treated as theft.
REUSE_GRACE_S = 2.0


async def assert_refused(client: httpx.AsyncClient, token: str) -> None:
    """An access token that must no longer open any door: tasks, search or auth."""
    for path in ("/api/v1/tasks", "/api/v1/search?q=anything", "/api/v1/auth/me"):
        response = await client.get(path, headers=bearer(token))
        assert response.status_code == 401, (path, response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.headers.get("www-authenticate", "").startswith("Bearer")


async def wait_searchable(
    client: httpx.AsyncClient, account: Account, word: str, total: int
) -> None:
    async def found() -> Observation:
        seen = await search_total(client, account, word)
        return seen == total, seen

    await eventually(found, within=SEARCHABLE_WITHIN_S)


async def test_journey_with_cookie_flow(client: httpx.AsyncClient) -> None:
    account = await new_account(client)
    me = await client.get("/api/v1/auth/me", headers=account.headers)
    assert me.status_code == 200
    assert me.json()["id"] == account.user_id
    assert me.json()["email"].lower() == account.email.lower()
    assert client.cookies.get("csrf_token")
    assert client.cookies.get("refresh_token")

    word = unique_word()
    created = [await create_task(client, account, title=f"{word} number {n}") for n in range(3)]
    assert [task["version"] for task in created] == [1, 1, 1]
    listed = await client.get("/api/v1/tasks", params={"limit": 100}, headers=account.headers)
    assert listed.status_code == 200
    assert {t["id"] for t in listed.json()["items"]} == {t["id"] for t in created}

    done = created[0]["id"]
    patched = await client.patch(
        f"/api/v1/tasks/{done}", json={"status": "done"}, headers=account.headers
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["status"] == "done"
    assert patched.json()["version"] == 2

    await wait_searchable(client, account, word, 3)

    async def stats_follow() -> Observation:
        stats = await client.get("/api/v1/tasks/stats", headers=account.headers)
        assert stats.status_code == 200, stats.text
        body = stats.json()
        wanted = {"todo": 2, "in_progress": 0, "done": 1}
        return body["total"] == 3 and body["by_status"] == wanted, body

    await eventually(stats_follow, within=SEARCHABLE_WITHIN_S)

    old_refresh = client.cookies.get("refresh_token")
    no_csrf = await client.post("/api/v1/auth/refresh")
    assert no_csrf.status_code == 403, no_csrf.text
    wrong_csrf = await client.post("/api/v1/auth/refresh", headers={"X-CSRF-Token": "nope"})
    assert wrong_csrf.status_code == 403, wrong_csrf.text
    refreshed = await client.post(
        "/api/v1/auth/refresh", headers={"X-CSRF-Token": client.cookies["csrf_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text
    new_access = refreshed.json()["access_token"]
    assert new_access != account.access_token
    assert client.cookies.get("refresh_token") not in (None, old_refresh)
    assert (await client.get("/api/v1/tasks", headers=bearer(new_access))).status_code == 200

    logout = await client.post("/api/v1/auth/logout", headers=bearer(new_access))
    assert logout.status_code == 204, logout.text
    await assert_refused(client, new_access)
    # The first access token belongs to the same session, so logging out ends it too.
    await assert_refused(client, account.access_token)


async def test_oauth_token_endpoint_rotates_refresh_tokens(client: httpx.AsyncClient) -> None:
    account = await new_account(client)
    form = {"grant_type": "password", "username": account.email, "password": account.password}
    issued = await client.post("/api/v1/auth/token", data=form)
    assert issued.status_code == 200, issued.text
    pair = issued.json()
    assert pair["token_type"].lower() == "bearer"
    assert pair["expires_in"] > 0
    assert (
        await client.get("/api/v1/tasks", headers=bearer(pair["access_token"]))
    ).status_code == 200

    rotated = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]},
    )
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["refresh_token"] != pair["refresh_token"]
    assert rotated.json()["access_token"] != pair["access_token"]

    unsupported = await client.post("/api/v1/auth/token", data={"grant_type": "magic"})
    assert unsupported.status_code == 400
    assert unsupported.json()["error"] == "unsupported_grant_type"
    wrong = await client.post("/api/v1/auth/token", data={**form, "password": "not-the-password"})
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"


async def test_logout_all_ends_every_session(client: httpx.AsyncClient, system: System) -> None:
    account = await new_account(client)
    async with gateway_client(system) as other_device:
        second = await login(other_device, account.email, account.password)
    response = await client.post("/api/v1/auth/logout-all", headers=account.headers)
    assert response.status_code == 204, response.text
    await assert_refused(client, account.access_token)
    await assert_refused(client, second)


async def test_api_key_works_until_deleted(client: httpx.AsyncClient) -> None:
    account = await new_account(client)
    created = await client.post(
        "/api/v1/auth/api-keys",
        json={"name": "ci", "scopes": ["tasks:read", "tasks:write"]},
        headers=account.headers,
    )
    assert created.status_code == 201, created.text
    key = created.json()
    remember(key["key"])
    listed = await client.get("/api/v1/auth/api-keys", headers=account.headers)
    assert listed.status_code == 200
    assert key["key"] not in listed.text
    assert [item["id"] for item in listed.json()["items"]] == [key["id"]]

    by_key = {"X-API-Key": key["key"]}
    task = await client.post("/api/v1/tasks", json={"title": "via key"}, headers=by_key)
    assert task.status_code == 201, task.text
    mine = await client.get(f"/api/v1/tasks/{task.json()['id']}", headers=account.headers)
    assert mine.status_code == 200

    deleted = await client.delete(f"/api/v1/auth/api-keys/{key['id']}", headers=account.headers)
    assert deleted.status_code == 204, deleted.text
    refused = await client.get("/api/v1/tasks", headers=by_key)
    assert refused.status_code == 401, refused.text


async def test_second_user_sees_nothing_of_the_first(
    client: httpx.AsyncClient, system: System
) -> None:
    owner = await new_account(client)
    word = unique_word()
    task = await create_task(client, owner, title=f"{word} private", description="secret plans")
    key = await client.post(
        "/api/v1/auth/api-keys",
        json={"name": "owner", "scopes": ["tasks:read"]},
        headers=owner.headers,
    )
    assert key.status_code == 201, key.text
    remember(key.json()["key"])
    await wait_searchable(client, owner, word, 1)

    async with gateway_client(system) as stranger_client:
        stranger = await new_account(stranger_client)
        path = f"/api/v1/tasks/{task['id']}"
        for method, body in (("GET", None), ("PATCH", {"title": "mine now"}), ("DELETE", None)):
            response = await stranger_client.request(
                method, path, json=body, headers=stranger.headers
            )
            assert response.status_code == 404, (method, response.status_code, response.text)
        listed = await stranger_client.get("/api/v1/tasks", headers=stranger.headers)
        assert listed.json()["items"] == []
        assert await search_total(stranger_client, stranger, word) == 0
        sessions = await stranger_client.get("/api/v1/auth/sessions", headers=stranger.headers)
        assert sessions.status_code == 200
        assert len(sessions.json()["items"]) == 1
        keys = await stranger_client.get("/api/v1/auth/api-keys", headers=stranger.headers)
        assert keys.json()["items"] == []
        key_id = key.json()["id"]
        stolen = await stranger_client.delete(
            f"/api/v1/auth/api-keys/{key_id}", headers=stranger.headers
        )
        assert stolen.status_code == 404, stolen.text
        owner_sessions = await client.get("/api/v1/auth/sessions", headers=owner.headers)
        for session in owner_sessions.json()["items"]:
            ended = await stranger_client.delete(
                f"/api/v1/auth/sessions/{session['id']}", headers=stranger.headers
            )
            assert ended.status_code == 404, ended.text

    untouched = await client.get(f"/api/v1/tasks/{task['id']}", headers=owner.headers)
    assert untouched.status_code == 200
    assert untouched.json()["version"] == 1
    assert (await client.get("/api/v1/auth/me", headers=owner.headers)).status_code == 200
    assert (
        await client.get("/api/v1/tasks", headers={"X-API-Key": key.json()["key"]})
    ).status_code == 200


@asynccontextmanager
async def slow_proxy(target: str, *, delay: float) -> AsyncIterator[str]:
    """A TCP proxy to ``target`` that holds every chunk a client sends for ``delay`` seconds."""
    host, port = target.removeprefix("http://").split(":")

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, wait: float) -> None:
        while chunk := await reader.read(65536):
            await asyncio.sleep(wait)
            writer.write(chunk)
            await writer.drain()
        writer.close()

    async def serve(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        upstream_r, upstream_w = await asyncio.open_connection(host, int(port))
        await asyncio.gather(
            pipe(client_r, upstream_w, delay), pipe(upstream_r, client_w, 0), return_exceptions=True
        )

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    async with server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


async def test_a_fresh_gateway_accepts_concurrent_valid_tokens(
    client: httpx.AsyncClient, system: System
) -> None:
    # Auth answers slowly (300 ms), so the first request's JWKS fetch is surely still in flight
    # when the next requests arrive: they must wait for it, not be refused.
    account = await new_account(client)
    async with slow_proxy(system.one("auth").url, delay=0.3) as slow_auth:
        env = {**system.gateway_env(), "GATEWAY_AUTH_URLS": slow_auth}
        fresh = await asyncio.to_thread(system.add, "gateway", extra_env=env)

        async def staggered(cold: httpx.AsyncClient, n: int) -> httpx.Response:
            await asyncio.sleep(n * 0.01)
            return await cold.get("/api/v1/tasks", headers=account.headers)

        try:
            async with httpx.AsyncClient(base_url=fresh.url, timeout=30) as cold:
                responses = await asyncio.gather(*(staggered(cold, n) for n in range(20)))
        finally:
            await asyncio.to_thread(retire, system, fresh)
    refused = [r.text for r in responses if r.status_code != 200]
    assert refused == [], refused[:3]


async def test_refresh_token_reuse_after_grace_revokes_the_session(
    client: httpx.AsyncClient, system: System
) -> None:
    account = await new_account(client)
    stolen = client.cookies["refresh_token"]
    csrf = {"X-CSRF-Token": client.cookies["csrf_token"]}
    rotated = await client.post("/api/v1/auth/refresh", headers=csrf)
    assert rotated.status_code == 200, rotated.text
    fresh_access = rotated.json()["access_token"]
    await asyncio.sleep(REUSE_GRACE_S + 0.5)

    thief_cookies = {"refresh_token": stolen, "csrf_token": csrf["X-CSRF-Token"]}
    async with gateway_client(system, cookies=thief_cookies) as thief:
        replay = await thief.post("/api/v1/auth/refresh", headers=csrf)
    assert replay.status_code == 401, replay.text
    await assert_refused(client, fresh_access)
    await assert_refused(client, account.access_token)
