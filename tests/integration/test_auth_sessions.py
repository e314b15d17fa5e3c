"""Sessions through the gateway: refresh rotation, CSRF, reuse and theft, logout, session list."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.integration.harness import System
from tests.support.accounts import bearer, login, new_account, oauth_password_grant, register
from tests.support.secrets import gateway_client, remember

pytestmark = pytest.mark.integration
GRACE_SECONDS = 2.0  # AUTH_REFRESH_REUSE_GRACE_SECONDS's default, which the test stack keeps


@pytest.fixture
async def browser(system: System) -> AsyncIterator[httpx.AsyncClient]:
    """A client with its own cookie jar, as one browser."""
    async with gateway_client(system) as gateway:
        yield gateway


async def refresh_count(system: System, outcome: str) -> float:
    """``auth_refreshes_total{outcome=...}`` as auth's ``/metrics`` reports it."""
    async with httpx.AsyncClient(base_url=system.one("auth").url) as direct:
        text = (await direct.get("/metrics")).text
    prefix = f'auth_refreshes_total{{outcome="{outcome}"}} '
    lines = [line for line in text.splitlines() if line.startswith(prefix)]
    return float(lines[0].removeprefix(prefix)) if lines else 0.0


async def me_status(client: httpx.AsyncClient, token: str) -> int:
    return (await client.get("/api/v1/auth/me", headers=bearer(token))).status_code


async def refresh_grant(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return await client.post("/api/v1/auth/token", data=form)


def oauth_error(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"error", "error_description"}
    error: str = body["error"]
    return error


async def browser_refresh(browser: httpx.AsyncClient) -> httpx.Response:
    csrf = browser.cookies.get("csrf_token") or ""
    return await browser.post("/api/v1/auth/refresh", headers={"X-CSRF-Token": csrf})


async def test_browser_refresh_rotates_both_cookies(browser: httpx.AsyncClient) -> None:
    email, password, _ = await register(browser)
    await login(browser, email, password)
    old_refresh = browser.cookies.get("refresh_token")
    response = await browser_refresh(browser)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"access_token", "token_type", "expires_in"}
    assert browser.cookies.get("refresh_token") not in (None, old_refresh)
    assert await me_status(browser, response.json()["access_token"]) == 200


async def test_refresh_needs_the_matching_csrf_header(browser: httpx.AsyncClient) -> None:
    email, password, _ = await register(browser)
    await login(browser, email, password)
    refresh = browser.cookies.get("refresh_token")
    for headers in ({}, {"X-CSRF-Token": "wrong"}, {"X-CSRF-Token": ""}):
        response = await browser.post("/api/v1/auth/refresh", headers=headers)
        assert response.status_code == 403, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    # A planted cookie pair (header equal to a cookie the attacker chose) does not verify.
    planted = {"Cookie": f"refresh_token={refresh}; csrf_token=chosen", "X-CSRF-Token": "chosen"}
    async with httpx.AsyncClient(base_url=str(browser.base_url)) as attacker:
        assert (await attacker.post("/api/v1/auth/refresh", headers=planted)).status_code == 403
    # Refused attempts consumed nothing: the real browser still refreshes.
    assert (await browser_refresh(browser)).status_code == 200


async def test_refresh_without_the_cookie_is_401(client: httpx.AsyncClient) -> None:
    headers = {"Cookie": "csrf_token=abc", "X-CSRF-Token": "abc"}
    async with httpx.AsyncClient(base_url=str(client.base_url)) as bare:
        response = await bare.post("/api/v1/auth/refresh", headers=headers)
    assert response.status_code == 401, response.text


async def test_oauth_password_and_refresh_grants(client: httpx.AsyncClient) -> None:
    email, password, _ = await register(client)
    form = {"grant_type": "password", "username": email, "password": password}
    response = await client.post("/api/v1/auth/token", data=form)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    rotated = await refresh_grant(client, body["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["refresh_token"] != body["refresh_token"]
    assert await me_status(client, rotated.json()["access_token"]) == 200


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
        ({"grant_type": "password", "password": "x"}, "invalid_request"),
        ({}, "invalid_request"),
        ({"grant_type": "refresh_token", "refresh_token": "made-up"}, "invalid_grant"),
        ({"grant_type": "password", "username": "nobody@x.test", "password": "x"}, "invalid_grant"),
    ],
)
async def test_oauth_errors_follow_rfc_6749(
    client: httpx.AsyncClient, form: dict[str, str], error: str
) -> None:
    assert oauth_error(await client.post("/api/v1/auth/token", data=form)) == error


async def test_oauth_refuses_json_and_repeated_parameters(client: httpx.AsyncClient) -> None:
    as_json = await client.post("/api/v1/auth/token", json={"grant_type": "password"})
    assert oauth_error(as_json) == "invalid_request"
    repeated = await client.post(
        "/api/v1/auth/token",
        content=b"grant_type=password&grant_type=refresh_token",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert oauth_error(repeated) == "invalid_request"


async def test_reuse_inside_the_grace_window_revokes_nothing(
    client: httpx.AsyncClient, system: System
) -> None:
    races_before = await refresh_count(system, "reuse_in_grace")
    email, password, _ = await register(client)
    _, first = await oauth_password_grant(client, email, password)
    second = (await refresh_grant(client, first)).json()
    remember(second["refresh_token"])
    assert oauth_error(await refresh_grant(client, first)) == "invalid_grant"
    assert await me_status(client, second["access_token"]) == 200
    third = await refresh_grant(client, second["refresh_token"])
    assert third.status_code == 200, third.text
    assert await refresh_count(system, "reuse_in_grace") == races_before + 1


async def test_reuse_after_the_grace_window_revokes_that_session_only(
    client: httpx.AsyncClient, system: System
) -> None:
    thefts_before = await refresh_count(system, "theft")
    email, password, _ = await register(client)
    other_access, other_refresh = await oauth_password_grant(client, email, password)
    _, stolen = await oauth_password_grant(client, email, password)
    newest = (await refresh_grant(client, stolen)).json()
    await asyncio.sleep(GRACE_SECONDS + 0.5)
    assert oauth_error(await refresh_grant(client, stolen)) == "invalid_grant"
    assert await refresh_count(system, "theft") == thefts_before + 1
    # The whole family is dead at once: its newest refresh token and its access token.
    assert oauth_error(await refresh_grant(client, newest["refresh_token"])) == "invalid_grant"
    assert await me_status(client, newest["access_token"]) == 401
    # The user's other session is untouched.
    assert await me_status(client, other_access) == 200
    assert (await refresh_grant(client, other_refresh)).status_code == 200


async def test_browser_replay_after_the_grace_window_is_401_and_ends_the_session(
    browser: httpx.AsyncClient,
) -> None:
    email, password, _ = await register(browser)
    await login(browser, email, password)
    stolen = {
        "Cookie": "; ".join(f"{k}={v}" for k, v in browser.cookies.items()),
        "X-CSRF-Token": browser.cookies.get("csrf_token") or "",
    }
    fresh = await browser_refresh(browser)
    assert fresh.status_code == 200
    await asyncio.sleep(GRACE_SECONDS + 0.5)
    async with httpx.AsyncClient(base_url=str(browser.base_url)) as thief:
        assert (await thief.post("/api/v1/auth/refresh", headers=stolen)).status_code == 401
    assert await me_status(browser, fresh.json()["access_token"]) == 401
    assert (await browser_refresh(browser)).status_code == 401


async def test_concurrent_refreshes_with_one_token_have_one_winner(
    client: httpx.AsyncClient,
) -> None:
    email, password, _ = await register(client)
    _, token = await oauth_password_grant(client, email, password)
    responses = await asyncio.gather(*(refresh_grant(client, token) for _ in range(6)))
    winners = [r for r in responses if r.status_code == 200]
    assert len(winners) == 1, [r.status_code for r in responses]
    assert all(oauth_error(r) == "invalid_grant" for r in responses if r.status_code != 200)
    # Losing a race inside the grace window is not theft: the winner's session lives on.
    assert (await refresh_grant(client, winners[0].json()["refresh_token"])).status_code == 200


async def test_logout_takes_effect_on_the_next_request(client: httpx.AsyncClient) -> None:
    account = await new_account(client)
    other_access = await login(client, account.email, account.password)
    _, refresh = await oauth_password_grant(client, account.email, account.password)
    access = (await refresh_grant(client, refresh)).json()
    remember(access["access_token"], access["refresh_token"])
    response = await client.post("/api/v1/auth/logout", headers=bearer(access["access_token"]))
    assert response.status_code == 204
    cleared = " ".join(response.headers.get_list("set-cookie")).lower()
    assert "refresh_token=" in cleared
    assert "max-age=0" in cleared
    assert await me_status(client, access["access_token"]) == 401
    assert oauth_error(await refresh_grant(client, access["refresh_token"])) == "invalid_grant"
    assert await me_status(client, other_access) == 200


async def test_logout_all_ends_every_session_and_a_new_login_works(
    client: httpx.AsyncClient,
) -> None:
    email, password, _ = await register(client)
    sessions = [await oauth_password_grant(client, email, password) for _ in range(3)]
    first_access = sessions[0][0]
    assert (
        await client.post("/api/v1/auth/logout-all", headers=bearer(first_access))
    ).status_code == 204
    for access, refresh in sessions:
        assert await me_status(client, access) == 401
        assert oauth_error(await refresh_grant(client, refresh)) == "invalid_grant"
    again = await login(client, email, password)
    assert await me_status(client, again) == 200


async def test_session_list_marks_the_current_one_and_deleting_revokes(
    client: httpx.AsyncClient,
) -> None:
    email, password, _ = await register(client)
    mine = await login(client, email, password, user_agent="tab-a")
    theirs = await login(client, email, password, user_agent="tab-b")
    listed = await client.get("/api/v1/auth/sessions", headers=bearer(mine))
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert len(items) == 2
    assert {tuple(sorted(item)) for item in items} == {
        ("created_at", "current", "id", "last_used_at", "user_agent")
    }
    by_agent = {item["user_agent"]: item for item in items}
    assert by_agent["tab-a"]["current"] is True
    assert by_agent["tab-b"]["current"] is False
    doomed = by_agent["tab-b"]["id"]
    deleted = await client.delete(f"/api/v1/auth/sessions/{doomed}", headers=bearer(mine))
    assert deleted.status_code == 204
    assert await me_status(client, theirs) == 401
    assert await me_status(client, mine) == 200
    again = await client.delete(f"/api/v1/auth/sessions/{doomed}", headers=bearer(mine))
    assert again.status_code == 404
    stranger = await new_account(client)
    foreign = await client.delete(
        f"/api/v1/auth/sessions/{by_agent['tab-a']['id']}", headers=stranger.headers
    )
    assert foreign.status_code == 404
    assert await me_status(client, mine) == 200
