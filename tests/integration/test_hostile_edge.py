"""Issue #19: an anonymous client must not be able to poison, trip or lock anything.

Each test is one finding of the attack on the gateway, done the way the attacker did it (raw
sockets, two loopback source addresses, plain HTTP), and fails on the code before the fix.
Upstreams that record what the gateway sends them show what was (not) forwarded.
"""

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from services.auth.app.tokens import csrf_token_for
from shared.identity import IDENTITY_HEADER
from tests.integration.harness import System
from tests.integration.test_gateway import client_of, extra_process
from tests.support.accounts import Account, login, new_email, register
from tests.support.secrets import remember

pytestmark = pytest.mark.integration
ONE_MIB = 1024 * 1024
JWKS = "/.well-known/jwks.json"
LOGIN = "/api/v1/auth/login"


@dataclass
class Seen:
    method: str
    path_qs: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Recorder:
    """An upstream that answers every request with ``{}`` and remembers what it got."""

    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    hold_seconds: float = 0.0


@asynccontextmanager
async def recording_upstream(hold_seconds: float = 0.0) -> AsyncIterator[Recorder]:
    recorder = Recorder(hold_seconds=hold_seconds)

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        headers = {name.lower(): value for name, value in request.headers.items()}
        recorder.seen.append(Seen(request.method, request.path_qs, headers, body))
        await asyncio.sleep(recorder.hold_seconds)
        return web.json_response({}, status=200)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    recorder.url = f"http://127.0.0.1:{port}"
    try:
        yield recorder
    finally:
        await runner.cleanup()


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


async def send_raw(port: int, data: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    return reader, writer


async def status_of(reader: asyncio.StreamReader, within: float = 10.0) -> int:
    line = await asyncio.wait_for(reader.readline(), within)
    return int(line.split()[1])


def from_source(address: str, base_url: str) -> httpx.AsyncClient:
    """A client whose connections come from ``address`` (any 127.0.0.0/8 address works)."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=base_url, transport=transport, timeout=30)


def random_loopback() -> str:
    """A source address no earlier run used, so no counter in Redis knows it."""
    octets = (secrets.randbelow(200) + 20, secrets.randbelow(250) + 1, secrets.randbelow(250) + 1)
    return "127." + ".".join(map(str, octets))


# --- 1: a client's framing must never reach an upstream ----------------------------------


async def test_a_length_without_a_body_does_not_poison_the_upstream_connection(
    system: System,
) -> None:
    # One auth replica, a fresh pool: the aborted request's connection is the one reused next.
    env = {**system.gateway_env(), "GATEWAY_AUTH_URLS": system.one("auth").url}
    with extra_process(system, "gateway", env) as gateway:
        async with client_of(gateway) as client:
            assert (await client.get(JWKS)).status_code == 200
            head = f"GET {JWKS} HTTP/1.1\r\nHost: x\r\nContent-Length: 128\r\n\r\n".encode()
            _, writer = await send_raw(gateway.port, head)
            writer.close()
            await asyncio.sleep(0.5)
            after = [(await client.get(JWKS)).status_code for _ in range(3)]
    assert after == [200, 200, 200]


async def test_an_aborted_or_stalled_body_forwards_nothing_and_framing_is_the_gateways(
    system: System,
) -> None:
    async with recording_upstream() as auth:
        env = {
            **system.gateway_env(),
            "GATEWAY_AUTH_URLS": auth.url,
            "GATEWAY_BODY_READ_TIMEOUT_SECONDS": "1",
        }
        with extra_process(system, "gateway", env, ready=False) as gateway:
            head = (
                f"POST {LOGIN} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                "Content-Length: 100\r\n\r\n"
            ).encode()
            _, aborted = await send_raw(gateway.port, head + b'{"email":')
            aborted.close()
            reader, stalled = await send_raw(gateway.port, head + b'{"email":')
            started = time.monotonic()
            assert await status_of(reader) == 408
            assert time.monotonic() - started < 5
            stalled.close()
            await asyncio.sleep(0.3)
            assert auth.seen == []

            # A chunked body arrives upstream as the bytes held, with their own length.
            chunked = (
                f"POST {LOGIN} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
            ).encode()
            reader, writer = await send_raw(gateway.port, chunked)
            assert await status_of(reader) == 200
            writer.close()
    (forwarded,) = auth.seen
    assert forwarded.body == b"hello world"
    assert forwarded.headers["content-length"] == "11"
    assert "transfer-encoding" not in forwarded.headers


# --- 2: nothing a client sends can open a circuit or hold an upstream connection ----------


def oversized_chunked_login() -> bytes:
    chunk = b"x" * (64 * 1024)
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(20)) + b"0\r\n\r\n"
    head = (
        f"POST {LOGIN} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    return head + body


async def test_oversized_bodies_do_not_open_the_circuit(system: System) -> None:
    gateway = system.one("gateway")
    for _ in range(5):
        reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
        writer.write(oversized_chunked_login())
        # The gateway may answer and close before the whole body is sent.
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        assert await status_of(reader) == 413
        writer.close()
    async with httpx.AsyncClient(base_url=system.gateway_url) as client:
        assert (await client.get(JWKS)).status_code == 200
        metrics = (await client.get(system.gateway_ops_url + "/metrics")).text
    assert 'gateway_circuit_open{replica="0",service="auth"} 1.0' not in metrics


async def test_slow_bodies_hold_no_connection_and_waiting_for_one_has_a_deadline(
    system: System, account: Account
) -> None:
    async with recording_upstream(hold_seconds=3.0) as tasks:
        env = {
            **system.gateway_env(),
            "GATEWAY_TASKS_URLS": tasks.url,
            "GATEWAY_UPSTREAM_MAX_CONNECTIONS": "1",
            "GATEWAY_UPSTREAM_POOL_WAIT_SECONDS": "0.5",
            "GATEWAY_BODY_READ_TIMEOUT_SECONDS": "2",
        }
        with extra_process(system, "gateway", env, ready=False) as gateway:
            head = (
                f"POST {LOGIN} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                "Content-Length: 100\r\n\r\n"
            ).encode()
            trickles = [await send_raw(gateway.port, head + b"{") for _ in range(3)]
            async with client_of(gateway) as client:
                # Auth's only connection is not held by the three stalled bodies.
                quick = await asyncio.wait_for(client.get(JWKS), 1.5)
                assert quick.status_code == 200
                assert [await status_of(reader) for reader, _ in trickles] == [408] * 3

                # Tasks' only connection is busy for 3 s: the next request waits 0.5 s at most.
                busy = asyncio.create_task(client.get("/api/v1/tasks", headers=account.headers))
                await asyncio.sleep(0.3)
                started = time.monotonic()
                waited = await client.get("/api/v1/tasks", headers=account.headers)
                elapsed = time.monotonic() - started
                assert (await busy).status_code == 200
    for _, writer in trickles:
        writer.close()
    assert waited.status_code == 503, waited.text
    assert int(waited.headers["retry-after"]) >= 1
    assert elapsed < 2.0
    assert len(tasks.seen) == 1


# --- 3: a stranger cannot lock the owner out ---------------------------------------------


async def test_failures_from_one_address_do_not_lock_the_owner_out(system: System) -> None:
    async with from_source("127.0.0.2", system.gateway_url) as stranger:
        email, password, _ = await register(stranger)
        guesses = [
            await stranger.post(LOGIN, json={"email": email, "password": f"guess-{n}-wrong"})
            for n in range(10)
        ]
        assert [r.status_code for r in guesses] == [401] * 10
        locked = await stranger.post(LOGIN, json={"email": email, "password": password})
        assert locked.status_code == 429, locked.text
        assert int(locked.headers["retry-after"]) > 0
    async with from_source("127.0.0.3", system.gateway_url) as owner:
        signed_in = await owner.post(LOGIN, json={"email": email, "password": password})
    assert signed_in.status_code == 200, signed_in.text
    remember(signed_in.json()["access_token"])


# --- 4: invalid credentials are throttled before any lookup ------------------------------


async def resolve_calls(system: System) -> float:
    async with httpx.AsyncClient(base_url=system.one("auth").url) as direct:
        text = (await direct.get("/metrics")).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "http_requests_total"
        and sample.labels.get("route") == "/internal/v1/api-keys/resolve"
    )


async def test_random_api_keys_are_throttled_per_address_without_asking_auth(
    system: System, account: Account
) -> None:
    limit = 10
    env = {
        **system.gateway_env(),
        "GATEWAY_AUTH_URLS": system.one("auth").url,
        "GATEWAY_INVALID_CREDENTIALS_PER_ADDRESS": str(limit),
    }
    with extra_process(system, "gateway", env) as gateway:
        before = await resolve_calls(system)
        async with from_source(random_loopback(), gateway.url) as attacker:
            answers = await asyncio.gather(
                *(
                    attacker.get(
                        "/api/v1/tasks", headers={"X-API-Key": f"tsk_{secrets.token_hex(16)}"}
                    )
                    for _ in range(40)
                )
            )
            bad_token = await attacker.get(
                "/api/v1/tasks", headers={"Authorization": "Bearer x.y.z"}
            )
        asked = await resolve_calls(system) - before
        async with from_source(random_loopback(), gateway.url) as bystander:
            elsewhere = await bystander.get("/api/v1/tasks", headers=account.headers)
    statuses = [r.status_code for r in answers]
    assert statuses.count(401) <= limit, statuses
    assert statuses.count(429) >= 40 - limit, statuses
    assert set(statuses) == {401, 429}
    assert asked <= limit
    assert bad_token.status_code == 429
    assert int(bad_token.headers["retry-after"]) >= 1
    assert elsewhere.status_code == 200


# --- 6: no internal host or port in any answer -------------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/v1/tasks/", "/api/v1/search/", "/api/v1/auth/sessions/", "/docs/"]
)
async def test_a_trailing_slash_is_a_404_naming_no_internal_host(
    api: httpx.AsyncClient, account: Account, path: str
) -> None:
    response = await api.get(path, headers=account.headers)
    assert response.status_code == 404, (response.status_code, response.headers)
    assert response.headers["content-type"] == "application/problem+json"
    assert "location" not in response.headers
    exposed = response.text + " ".join(response.headers.values())
    assert "127.0.0.1:" not in exposed


# --- 7: metrics and readiness details only on the ops listener ---------------------------


async def test_metrics_and_readiness_details_are_on_the_ops_port_only(
    api: httpx.AsyncClient, system: System
) -> None:
    assert (await api.get("/metrics")).status_code == 404
    ready = await api.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}
    async with httpx.AsyncClient(base_url=system.gateway_ops_url) as ops:
        metrics = await ops.get("/metrics")
        details = await ops.get("/ready")
    assert metrics.status_code == 200
    assert "gateway_upstream_duration_seconds" in metrics.text
    assert set(details.json()["checks"]) == {"redis", "auth", "tasks", "search"}


# --- 8: banner, forwarded headers, trusted proxies, IPv6 /64, derived keys, binding ------


async def test_no_server_banner(api: httpx.AsyncClient, account: Account) -> None:
    for response in (
        await api.get("/health"),
        await api.get("/api/v1/tasks", headers=account.headers),
        await api.get("/nowhere"),
    ):
        assert "server" not in response.headers


async def test_tasks_gets_no_credentials_and_a_captured_identity_fits_only_its_request(
    system: System, account: Account
) -> None:
    async with recording_upstream() as tasks:
        env = {**system.gateway_env(), "GATEWAY_TASKS_URLS": tasks.url}
        with extra_process(system, "gateway", env, ready=False) as gateway:
            async with client_of(gateway) as client:
                sent = await client.post(
                    "/api/v1/tasks?source=test",
                    json={"title": "captured"},
                    headers={
                        **account.headers,
                        "Cookie": "refresh_token=abc; csrf_token=def",
                        "X-API-Key": "tsk_not_needed",
                        "X-CSRF-Token": "def",
                    },
                )
    assert sent.status_code == 200, sent.text
    (seen,) = tasks.seen
    assert not set(seen.headers) & {"authorization", "x-api-key", "cookie", "x-csrf-token"}
    captured = {IDENTITY_HEADER: seen.headers[IDENTITY_HEADER], "Content-Type": "application/json"}
    # Replayed straight to the real tasks service within its minute: only the exact request.
    async with client_of(system.one("tasks")) as direct:
        other_body = await direct.post(
            "/api/v1/tasks?source=test", content=b'{"title": "forged"}', headers=captured
        )
        other_query = await direct.post(
            "/api/v1/tasks?source=x", content=seen.body, headers=captured
        )
        exact = await direct.post("/api/v1/tasks?source=test", content=seen.body, headers=captured)
    assert other_body.status_code == 401, other_body.text
    assert other_query.status_code == 401, other_query.text
    assert exact.status_code == 201, exact.text


async def test_forwarded_for_counts_only_from_trusted_proxies_and_ipv6_per_64(
    system: System,
) -> None:
    env = {
        **system.gateway_env(),
        "GATEWAY_TRUSTED_PROXIES": "127.0.0.2/32",
        "GATEWAY_PUBLIC_RATE_PER_SECOND": "0.01",
        "GATEWAY_PUBLIC_BURST": "2",
    }
    net = f"2001:db8:{secrets.token_hex(2)}:{secrets.token_hex(2)}"
    body = {"email": new_email(), "password": "wrong-password-1"}
    with extra_process(system, "gateway", env) as gateway:

        async def statuses(source: str, forwarded: list[str]) -> list[int]:
            async with from_source(source, gateway.url) as client:
                return [
                    (
                        await client.post(LOGIN, json=body, headers={"X-Forwarded-For": f})
                    ).status_code
                    for f in forwarded
                ]

        proxied = await statuses("127.0.0.2", [f"{net}::1", f"6.6.6.6, {net}::2", f"{net}::3"])
        other_net = await statuses("127.0.0.2", [f"2001:db8:{secrets.token_hex(2)}::1"])
        direct = await statuses(random_loopback(), ["203.0.113.1", "203.0.113.2", "203.0.113.3"])
    assert proxied == [401, 401, 429]  # one /64, whatever its clients write before it
    assert other_net == [401]
    assert direct == [401, 401, 429]  # an untrusted peer cannot choose its address


async def test_the_csrf_key_is_not_the_signing_secret(system: System) -> None:
    async with httpx.AsyncClient(base_url=system.gateway_url) as browser:
        email, password, _ = await register(browser)
        await login(browser, email, password)
        refresh, csrf = browser.cookies["refresh_token"], browser.cookies["csrf_token"]
    raw_secret = system.env["INTERNAL_SIGNING_SECRET"].encode()
    assert csrf != csrf_token_for(refresh, key=raw_secret)
