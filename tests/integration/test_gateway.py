"""The gateway against the real system: identity, limits, revocation, upstream failures."""

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import jwt
import pytest

from deploy.local.services import REPO, ServiceProcess
from shared.identity import Identity
from tests.integration.harness import System, free_port, ops_url, stack_command
from tests.support.accounts import Account, bearer, login, new_account
from tests.support.identities import signed_headers
from tests.support.polling import Observation, eventually, eventually_sync
from tests.support.problems import assert_problem
from tests.support.processes import retire
from tests.support.secrets import remember

pytestmark = pytest.mark.integration


@contextmanager
def extra_process(
    system: System, name: str, env: Mapping[str, str], *, ready: bool = True
) -> Iterator[ServiceProcess]:
    """One more process of ``name`` for this test only; stopped and forgotten afterwards."""
    proc = system.add(name, extra_env=env, start=False)
    try:
        proc.start()
        if ready:
            proc.wait_ready()
        else:
            wait_alive(proc)
        yield proc
    finally:
        retire(system, proc)  # its log is still part of the session's log check


def wait_alive(proc: ServiceProcess, timeout: float = 30.0) -> None:
    """Until ``proc`` answers /health with 200 (see its log if it never does)."""

    def healthy() -> Observation:
        try:
            status = httpx.get(f"{proc.url}/health", timeout=2).status_code
        except httpx.HTTPError as exc:
            return False, f"{type(exc).__name__}; log: {proc.log_path}"
        return status == 200, f"/health {status}; log: {proc.log_path}"

    eventually_sync(healthy, within=timeout, interval=0.1)


async def wait_ready(system: System, *names: str) -> None:
    """Until each service's /ready is 200 again, so later tests start from a healthy system."""
    async with httpx.AsyncClient(timeout=3) as client:
        for name in names:

            async def ready(name: str = name) -> Observation:
                status = (await client.get(f"{system.one(name).url}/ready")).status_code
                return status == 200, f"{name} /ready {status}"

            await eventually(ready, within=30.0, interval=0.2)


@asynccontextmanager
async def client_of(proc: ServiceProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=proc.url, timeout=30) as client:
        yield client


async def test_a_logged_in_user_reaches_every_service(api: httpx.AsyncClient) -> None:
    account = await new_account(api)
    me = await api.get("/api/v1/auth/me", headers=account.headers)
    assert me.status_code == 200, me.text
    assert me.json()["id"] == account.user_id
    origin = {"Origin": "http://app.example.test"}
    for path in ("/api/v1/tasks", "/api/v1/search?q=hello"):
        response = await api.get(path, headers={**account.headers, **origin})
        assert response.status_code == 200, (path, response.text)
        assert response.headers["ratelimit-policy"].startswith('"user";q=')
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["access-control-allow-origin"] == origin["Origin"]
        assert "ratelimit" in response.headers["access-control-expose-headers"].lower()


async def test_no_credentials_is_401_with_a_bearer_challenge(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/tasks")
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    bad = await api.get("/api/v1/tasks", headers={"Authorization": "Bearer not-a-token"})
    assert_problem(bad, 401)
    assert "invalid_token" in bad.headers["www-authenticate"]


async def test_forged_identity_headers_through_the_gateway_are_ignored(
    api: httpx.AsyncClient, system: System
) -> None:
    victim, attacker = await new_account(api), await new_account(api)
    forged = signed_headers(
        system, Identity(user_id=victim.user_id, via="jwt"), method="GET", path="/api/v1/auth/me"
    )
    alone = await api.get("/api/v1/auth/me", headers={**forged, "X-User-Id": victim.user_id})
    assert_problem(alone, 401)
    mixed = await api.get("/api/v1/auth/me", headers={**forged, **attacker.headers})
    assert mixed.status_code == 200
    assert mixed.json()["id"] == attacker.user_id


async def test_forged_identity_straight_to_a_service_port_is_refused(system: System) -> None:
    tasks = system.one("tasks")
    identity = Identity(user_id="someone", via="jwt")
    wrong_path = signed_headers(system, identity, method="GET", path="/api/v1/tasks/stats")
    wrong_secret = {"X-Taskstream-Identity": wrong_path["X-Taskstream-Identity"][:-4] + "AAAA"}
    async with client_of(tasks) as direct:
        for headers in ({}, wrong_path, wrong_secret, {"X-User-Id": "someone"}):
            assert_problem(await direct.get("/api/v1/tasks", headers=headers), 401)


async def test_internal_routes_are_never_routed(api: httpx.AsyncClient) -> None:
    response = await api.post("/internal/v1/api-keys/resolve", json={"key": "ts_anything"})
    assert_problem(response, 404)
    sneaky = await api.get("/api/v1/tasks/../../internal/v1/api-keys/resolve")
    assert sneaky.status_code in (400, 404)


async def test_logout_revokes_the_token_at_the_next_request(api: httpx.AsyncClient) -> None:
    account = await new_account(api)
    assert (await api.post("/api/v1/auth/logout", headers=account.headers)).status_code == 204
    assert_problem(await api.get("/api/v1/tasks", headers=account.headers), 401)


async def create_api_key(api: httpx.AsyncClient, account: Account) -> tuple[str, str]:
    body = {"name": "ci", "scopes": ["tasks:read", "tasks:write"]}
    response = await api.post("/api/v1/auth/api-keys", json=body, headers=account.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    remember(body["key"])
    return body["id"], body["key"]


async def test_an_api_key_works_until_deleted_despite_the_cache(api: httpx.AsyncClient) -> None:
    account = await new_account(api)
    key_id, key = await create_api_key(api, account)
    for _ in range(2):  # the second answer comes from the gateway's cache
        assert (await api.get("/api/v1/tasks", headers={"X-API-Key": key})).status_code == 200
    deleted = await api.delete(f"/api/v1/auth/api-keys/{key_id}", headers=account.headers)
    assert deleted.status_code == 204
    assert_problem(await api.get("/api/v1/tasks", headers={"X-API-Key": key}), 401)
    assert_problem(await api.get("/api/v1/tasks", headers={"X-API-Key": "ts_nope"}), 401)


async def test_request_ids_pass_through_and_large_bodies_are_refused(
    api: httpx.AsyncClient,
) -> None:
    account = await new_account(api)
    response = await api.get(
        "/api/v1/tasks", headers={**account.headers, "X-Request-ID": "gw-it-1"}
    )
    assert response.headers["x-request-id"] == "gw-it-1"

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(17):
            yield b"x" * 65536

    streamed = await api.post("/api/v1/tasks", content=chunks(), headers=account.headers)
    assert_problem(streamed, 413)


async def test_the_merged_openapi_document_covers_the_public_api(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    document = response.json()
    assert document["openapi"].startswith("3.1")
    assert {"/api/v1/tasks", "/api/v1/search", "/api/v1/auth/login"} <= set(document["paths"])
    assert not [p for p in document["paths"] if p.startswith("/internal")]
    assert "OAuth2PasswordBearer" in document["components"]["securitySchemes"]


async def test_a_burst_over_the_limit_gets_429_with_ietf_headers(
    api: httpx.AsyncClient, system: System
) -> None:
    account = await new_account(api)
    limits = {"GATEWAY_USER_RATE_PER_SECOND": "0.5", "GATEWAY_USER_BURST": "3",
              "GATEWAY_PUBLIC_RATE_PER_SECOND": "0.5", "GATEWAY_PUBLIC_BURST": "2"}  # fmt: skip
    with extra_process(system, "gateway", {**system.gateway_env(), **limits}) as gateway:
        async with client_of(gateway) as client:
            answers = [await client.get("/api/v1/tasks", headers=account.headers) for _ in range(4)]
            assert [r.status_code for r in answers] == [200, 200, 200, 429]
            assert answers[0].headers["ratelimit-policy"] == '"user";q=3;w=6'
            assert answers[0].headers["ratelimit"].startswith('"user";r=2;t=')
            assert_problem(answers[3], 429)
            assert int(answers[3].headers["retry-after"]) >= 1
            assert answers[3].headers["ratelimit"].startswith('"user";r=0;')
            login = {"email": f"nobody-{uuid.uuid4().hex}@example.test", "password": "wrong-pw-123"}
            # A client cannot pose as other addresses to get more public requests.
            public = [
                await client.post(
                    "/api/v1/auth/login", json=login, headers={"X-Forwarded-For": f"203.0.113.{i}"}
                )
                for i in range(3)
            ]
            assert [r.status_code for r in public] == [401, 401, 429]
            assert public[2].headers["ratelimit-policy"] == '"public";q=2;w=4'


async def test_one_replica_of_two_stopped_costs_no_request(
    api: httpx.AsyncClient, system: System
) -> None:
    # Auth replicas, because a second tasks replica does not start reliably on FerretDB yet.
    account = await new_account(api)
    with extra_process(system, "auth", {}) as spare:
        env = {**system.gateway_env(), "GATEWAY_BREAKER_COOLDOWN_SECONDS": "60"}
        with extra_process(system, "gateway", env) as gateway:
            spare.stop()
            async with client_of(gateway) as client:
                reads = [
                    await client.get("/api/v1/auth/me", headers=account.headers) for _ in range(10)
                ]
                writes = [
                    await client.post(
                        "/api/v1/auth/api-keys",
                        json={"name": f"k{i}", "scopes": ["tasks:read"]},
                        headers=account.headers,
                    )
                    for i in range(4)
                ]
                metrics = (await client.get(ops_url(gateway) + "/metrics")).text
    remember(*(w.json().get("key") for w in writes))
    assert [r.status_code for r in reads] == [200] * 10
    assert [r.status_code for r in writes] == [201] * 4
    assert 'gateway_circuit_open{replica="1",service="auth"} 1.0' in metrics


async def black_hole(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """An upstream that accepts and reads but never answers."""
    await reader.read(65536)
    await asyncio.sleep(30)
    writer.close()


async def test_slow_dead_and_broken_upstreams_give_504_502_and_503(
    api: httpx.AsyncClient, system: System
) -> None:
    account = await new_account(api)
    server = await asyncio.start_server(black_hole, "127.0.0.1", 0)
    slow_port = server.sockets[0].getsockname()[1]
    env = {
        **system.gateway_env(),
        "GATEWAY_TASKS_URLS": f"http://127.0.0.1:{slow_port}",
        "GATEWAY_SEARCH_URLS": f"http://127.0.0.1:{free_port()}",
        "GATEWAY_UPSTREAM_READ_TIMEOUT_SECONDS": "0.5",
        "GATEWAY_BREAKER_FAILURE_THRESHOLD": "2",
    }
    try:
        with extra_process(system, "gateway", env, ready=False) as gateway:
            async with client_of(gateway) as client:
                started = time.monotonic()
                slow = await client.get("/api/v1/tasks", headers=account.headers)
                assert_problem(slow, 504)
                assert time.monotonic() - started < 3
                dead = [
                    await client.get("/api/v1/search?q=x", headers=account.headers)
                    for _ in range(3)
                ]
                ready = await client.get("/ready")
    finally:
        server.close()
    assert [r.status_code for r in dead] == [502, 502, 503]
    assert int(dead[2].headers["retry-after"]) >= 1
    assert "127.0.0.1" not in dead[0].text
    assert_problem(ready, 503)


async def test_tokens_keep_verifying_from_cached_keys_while_auth_is_down(
    api: httpx.AsyncClient, system: System
) -> None:
    account = await new_account(api)
    with extra_process(system, "auth", {}) as auth:
        env = {**system.gateway_env(), "GATEWAY_AUTH_URLS": auth.url}
        with extra_process(system, "gateway", env) as gateway:
            async with client_of(gateway) as client:
                assert (
                    await client.get("/api/v1/tasks", headers=account.headers)
                ).status_code == 200
                auth.stop()
                after = await client.get("/api/v1/tasks", headers=account.headers)
                me = await client.get("/api/v1/auth/me", headers=account.headers)
    assert after.status_code == 200
    assert_problem(me, 502)


def rotate_keys(keys_dir: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "services.auth.app.keys",
        "rotate",
        "--keys-dir",
        str(keys_dir),
    ]
    subprocess.run(command, cwd=REPO, check=True, capture_output=True, timeout=60)


def kid_of(token: str) -> str:
    kid: str = jwt.get_unverified_header(token)["kid"]
    return kid


async def test_a_rotated_signing_key_is_fetched_on_its_unknown_kid(
    api: httpx.AsyncClient, system: System, tmp_path: Path
) -> None:
    account = await new_account(api)
    keys_dir = tmp_path / "rotating-keys"
    with extra_process(system, "auth", {"AUTH_KEYS_DIR": str(keys_dir)}) as auth:
        env = {
            **system.gateway_env(),
            "GATEWAY_AUTH_URLS": auth.url,
            "GATEWAY_JWKS_MIN_REFETCH_SECONDS": "1",
        }
        with extra_process(system, "gateway", env) as gateway:
            async with client_of(gateway) as client:
                old = await login(client, account.email, account.password)
                assert (await client.get("/api/v1/tasks", headers=bearer(old))).status_code == 200
                rotate_keys(keys_dir)
                await asyncio.sleep(1.1)  # past the refetch rate limit
                new = await login(client, account.email, account.password)
                assert kid_of(new) != kid_of(old)
                after = [await client.get("/api/v1/tasks", headers=bearer(t)) for t in (new, old)]
                metrics = (await client.get(ops_url(gateway) + "/metrics")).text
    assert [r.status_code for r in after] == [200, 200]
    assert 'gateway_jwks_refreshes_total{outcome="ok"} 2.0' in metrics


@pytest.mark.faults
async def test_redis_stopped_mid_test_keeps_serving_with_memory_limits(
    api: httpx.AsyncClient, system: System
) -> None:
    alive, gone = await new_account(api), await new_account(api)
    assert (await api.post("/api/v1/auth/logout", headers=gone.headers)).status_code == 204
    limits = {"GATEWAY_USER_RATE_PER_SECOND": "0.5", "GATEWAY_USER_BURST": "50"}
    with extra_process(system, "gateway", {**system.gateway_env(), **limits}) as gateway:
        async with client_of(gateway) as client:
            assert_problem(await client.get("/api/v1/tasks", headers=gone.headers), 401)
            try:
                stack_command("down", "redis")
                during = [
                    await client.get("/api/v1/tasks", headers=alive.headers) for _ in range(3)
                ]
                revoked = await client.get("/api/v1/tasks", headers=gone.headers)
                burst = [
                    await client.get("/api/v1/tasks", headers=alive.headers) for _ in range(60)
                ]
                metrics = (await client.get(ops_url(gateway) + "/metrics")).text
            finally:
                stack_command("up", "redis")
                await wait_ready(system, "auth", "tasks")
    assert [r.status_code for r in during] == [200] * 3
    assert_problem(revoked, 401)
    assert 429 in [r.status_code for r in burst]
    assert "gateway_redis_fallback_total" in metrics


async def raw_request(proc: ServiceProcess, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", proc.port)
    writer.write(request)
    await writer.drain()
    answer = await reader.read(65536)
    writer.close()
    return answer


async def test_odd_request_targets_are_client_errors_not_upstream_failures(
    api: httpx.AsyncClient, system: System
) -> None:
    account = await new_account(api)
    token = account.headers["Authorization"].encode()
    gateway = system.one("gateway")
    for target in (
        b"/api/v1/tasks/%ff%00",
        b"/api/v1/tasks/\xc3\xa9t\xc3\xa9",
        b"/api/v1/tasks/a%2F..%2F..%2Finternal",
    ):
        request = (
            b"GET "
            + target
            + b" HTTP/1.1\r\nHost: x\r\nAuthorization: "
            + token
            + b"\r\nConnection: close\r\n\r\n"
        )
        answer = await raw_request(gateway, request)
        status = int(answer.split(b" ", 2)[1])
        assert 400 <= status < 500, answer[:300]
