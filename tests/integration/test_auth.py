"""Auth through the gateway: accounts, login, tokens, throttling, JWKS, key rotation."""

import asyncio
import statistics
import subprocess
import sys
import time

import httpx
import jwt
import pytest

from deploy.local.services import REPO
from tests.integration.harness import System
from tests.support.accounts import bearer, login, new_account, new_email, new_password, register
from tests.support.polling import eventually
from tests.support.problems import assert_problem

pytestmark = pytest.mark.integration
USER_FIELDS = {"id", "email", "name", "created_at"}


async def test_register_returns_the_account_and_nothing_secret(
    client: httpx.AsyncClient,
) -> None:
    password = new_password()
    email = new_email()
    response = await client.post(
        "/api/v1/auth/register", json={"email": f"  {email.upper()} ", "password": password}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == USER_FIELDS
    assert body["email"] == email
    assert password not in response.text
    assert "argon2" not in response.text


async def test_email_is_unique_whatever_its_case(client: httpx.AsyncClient) -> None:
    email, _, _ = await register(client)
    duplicate = await client.post(
        "/api/v1/auth/register", json={"email": f" {email.upper()} ", "password": new_password()}
    )
    assert_problem(duplicate, 409)


@pytest.mark.parametrize("password", ["short", "x" * 129, "password123", "Iloveyou1"])
async def test_weak_passwords_are_refused(client: httpx.AsyncClient, password: str) -> None:
    response = await client.post(
        "/api/v1/auth/register", json={"email": new_email(), "password": password}
    )
    body = assert_problem(response, 422)
    assert body["errors"]


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b'{"email": 5, "password": "a fine passphrase"}',
        b'{"email": "a@b.test", "password": "a fine passphrase", "is_admin": true}',
        b'{"email": "a@b.test", "password": "a fine passphrase", "name": "' + b"n" * 5000 + b'"}',
        b"[]",
        b"",
        b'{"email": "a@b.test", "password": "lone \\ud800 surrogate"}',
    ],
)
async def test_bad_registration_bodies_are_4xx_and_write_nothing(
    client: httpx.AsyncClient, content: bytes
) -> None:
    response = await client.post(
        "/api/v1/auth/register", content=content, headers={"Content-Type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_refused_registration_left_the_email_free(client: httpx.AsyncClient) -> None:
    email = new_email()
    refused = await client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": "a fine passphrase", "role": "admin"},
    )
    assert_problem(refused, 422)
    await register(client, email=email)


async def test_login_gives_an_eddsa_token_with_the_agreed_claims(
    client: httpx.AsyncClient, system: System
) -> None:
    account = await new_account(client)
    header = jwt.get_unverified_header(account.access_token)
    claims = jwt.decode(account.access_token, options={"verify_signature": False})
    assert header["alg"] == "EdDSA"
    jwks = (await client.get("/.well-known/jwks.json")).json()
    assert header["kid"] in {key["kid"] for key in jwks["keys"]}
    assert set(claims) == {"iss", "aud", "sub", "sid", "jti", "iat", "exp"}
    assert claims["sub"] == account.user_id
    assert claims["iss"] == "taskstream"
    assert claims["aud"] == "taskstream-api"
    assert claims["exp"] - claims["iat"] == 900
    me = await client.get("/api/v1/auth/me", headers=account.headers)
    assert me.status_code == 200
    assert set(me.json()) == USER_FIELDS


async def test_login_sets_the_browser_cookies(client: httpx.AsyncClient) -> None:
    email, password, _ = await register(client)
    response = await client.post(
        "/api/v1/auth/login", json={"email": email.upper(), "password": password}
    )
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"access_token", "token_type", "expires_in"}
    assert response.json()["token_type"] == "Bearer"
    cookies = {
        value.split("=", 1)[0]: {part.strip().lower() for part in value.split(";")[1:]}
        for value in response.headers.get_list("set-cookie")
    }
    assert {"httponly", "samesite=strict", "path=/api/v1/auth"} <= cookies["refresh_token"]
    assert {"samesite=strict", "path=/"} <= cookies["csrf_token"]
    assert "httponly" not in cookies["csrf_token"]
    # The test stack runs with AUTH_COOKIE_SECURE=false; the default is Secure.
    assert "secure" not in cookies["refresh_token"]


async def test_wrong_password_and_unknown_email_look_the_same(client: httpx.AsyncClient) -> None:
    email, _, _ = await register(client)
    cases = {"wrong password": email, "unknown email": new_email()}
    bodies: dict[str, object] = {}
    timings: dict[str, list[float]] = {case: [] for case in cases}
    # Interleaved, so load from anything else on the machine hits both cases alike.
    for _ in range(8):
        for case, address in cases.items():
            started = time.perf_counter()
            response = await client.post(
                "/api/v1/auth/login", json={"email": address, "password": "not the password"}
            )
            timings[case].append(time.perf_counter() - started)
            body = assert_problem(response, 401)
            bodies[case] = {k: v for k, v in body.items() if k != "request_id"}
    assert bodies["wrong password"] == bodies["unknown email"]
    fast, slow = sorted(statistics.median(durations) for durations in timings.values())
    # Both run one argon2 verification; without the dummy check the gap would be ~10x.
    assert slow < fast * 2 + 0.02, timings


async def test_repeated_failures_for_one_account_reach_429(client: httpx.AsyncClient) -> None:
    email, password, _ = await register(client)
    for _ in range(10):
        response = await client.post(
            "/api/v1/auth/login", json={"email": email, "password": "wrong password!"}
        )
        assert_problem(response, 401)
    throttled = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert_problem(throttled, 429)
    assert int(throttled.headers["retry-after"]) > 0
    # Another account from the same address is unaffected.
    other = await new_account(client)
    assert (await client.get("/api/v1/auth/me", headers=other.headers)).status_code == 200


async def test_a_success_resets_the_account_count(client: httpx.AsyncClient) -> None:
    email, password, _ = await register(client)
    for _ in range(3):
        for _ in range(9):
            wrong = {"email": email, "password": "wrong password!"}
            assert (await client.post("/api/v1/auth/login", json=wrong)).status_code == 401
        await login(client, email, password)


async def test_parallel_guesses_cannot_slip_past_the_limit(client: httpx.AsyncClient) -> None:
    email, _, _ = await register(client)
    wrong = {"email": email, "password": "wrong password!"}
    responses = await asyncio.gather(
        *(client.post("/api/v1/auth/login", json=wrong) for _ in range(25))
    )
    statuses = sorted(r.status_code for r in responses)
    others = [r.text[:200] for r in responses if r.status_code not in (401, 429)]
    assert statuses.count(401) == 10, (statuses, others)
    assert statuses.count(429) == 15, (statuses, others)


async def test_jwks_publishes_public_keys_only(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    keys = response.json()["keys"]
    assert keys
    for key in keys:
        assert {"kid", "alg", "use", "kty", "crv", "x"} == set(key)
        assert key["alg"] == "EdDSA"
        assert key["use"] == "sig"


def rotate_keys(system: System) -> None:
    command = [sys.executable, "-m", "services.auth.app.keys", "rotate"]
    command += ["--keys-dir", system.env["AUTH_KEYS_DIR"]]
    subprocess.run(command, check=True, cwd=REPO, capture_output=True, timeout=60)


async def test_key_rotation_logs_nobody_out(client: httpx.AsyncClient, system: System) -> None:
    before = await new_account(client)
    old_kid = jwt.get_unverified_header(before.access_token)["kid"]
    rotate_keys(system)
    token = await login(client, before.email, before.password)
    new_kid = jwt.get_unverified_header(token)["kid"]
    assert new_kid != old_kid
    kids = {key["kid"] for key in (await client.get("/.well-known/jwks.json")).json()["keys"]}
    assert {old_kid, new_kid} <= kids
    assert (await client.get("/api/v1/auth/me", headers=before.headers)).status_code == 200

    async def new_key_accepted() -> tuple[bool, object]:
        # The gateway refetches the JWKS on an unknown kid, at most every few seconds.
        response = await client.get("/api/v1/auth/me", headers=bearer(token))
        return response.status_code == 200, response.status_code

    await eventually(new_key_accepted, within=15, interval=0.5)
    assert (await client.get("/api/v1/auth/me", headers=before.headers)).status_code == 200


async def test_forged_identity_straight_to_auth_is_refused(system: System) -> None:
    forged = "eyJ1c2VyX2lkIjoiYWRtaW4iLCJ2aWEiOiJqd3QifQ.bm90LWEtbWFj"
    async with httpx.AsyncClient(base_url=system.one("auth").url) as direct:
        response = await direct.get("/api/v1/auth/me", headers={"X-Taskstream-Identity": forged})
    assert_problem(response, 401)


async def test_protected_routes_need_a_credential(client: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", "/api/v1/auth/me"),
        ("GET", "/api/v1/auth/sessions"),
        ("POST", "/api/v1/auth/logout"),
        ("POST", "/api/v1/auth/api-keys"),
    ]:
        response = await client.request(method, path)
        assert_problem(response, 401)
