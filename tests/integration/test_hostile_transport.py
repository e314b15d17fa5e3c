"""Hostile bytes through the gateway: oversized or smuggled bodies, huge headers and URLs,
invalid UTF-8 and deeply nested JSON. Each is a quick 4xx problem, never a 5xx or a hang.
"""

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.integration.harness import System
from tests.integration.test_hostile import snapshot
from tests.support.accounts import Account
from tests.support.problems import assert_problem
from tests.support.tasks import create_task

pytestmark = pytest.mark.integration
ONE_MIB = 1024 * 1024
ANSWER_WITHIN_S = 10.0


async def test_body_over_one_mib_is_413(client: httpx.AsyncClient, account: Account) -> None:
    body = b'{"title": "' + b"x" * ONE_MIB + b'"}'
    response = await client.post(
        "/api/v1/tasks",
        content=body,
        headers={**account.headers, "Content-Type": "application/json"},
    )
    assert_problem(response, 413)
    assert await snapshot(client, account) == []


async def test_chunked_body_over_one_mib_is_413(
    client: httpx.AsyncClient, account: Account
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"title": "'
        for _ in range(32):
            yield b"x" * (64 * 1024)
        yield b'"}'

    response = await client.post(
        "/api/v1/tasks",
        content=chunks(),
        headers={**account.headers, "Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)
    assert await snapshot(client, account) == []


async def raw_exchange(system: System, head: bytes, body: bytes) -> bytes:
    """Send bytes no well-behaved client would; return the status line that came back.

    A server may answer from the head alone and close; the body is only sent if it did not,
    since writing into a closed connection would lose the answer.
    """
    host, port = system.gateway_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head)
        await writer.drain()
        try:
            return await asyncio.wait_for(reader.readline(), 2.0)
        except TimeoutError:
            writer.write(body)
            await writer.drain()
        return await asyncio.wait_for(reader.readline(), ANSWER_WITHIN_S)
    finally:
        writer.close()


async def test_lying_content_length_with_a_huge_chunked_body(
    system: System, account: Account
) -> None:
    # Both framings at once is the classic smuggling shape; a server must not trust the small
    # Content-Length and forward the rest as another request.
    chunk = b"x" * (64 * 1024)
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(32)) + b"0\r\n\r\n"
    head = (
        b"POST /api/v1/tasks HTTP/1.1\r\nHost: gateway\r\n"
        b"Authorization: Bearer " + account.access_token.encode() + b"\r\n"
        b"Content-Type: application/json\r\nContent-Length: 15\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    status_line = await raw_exchange(system, head, body)
    assert status_line.split()[1] in (b"400", b"413"), status_line


async def test_huge_header_is_refused(client: httpx.AsyncClient, account: Account) -> None:
    headers = {**account.headers, "X-Padding": "p" * (64 * 1024)}
    try:
        response = await client.get("/api/v1/tasks", headers=headers)
    except httpx.RemoteProtocolError:
        pytest.fail("the gateway dropped the connection instead of answering 431 or 400")
    assert response.status_code in (400, 431), response.text


async def test_huge_url_is_refused(client: httpx.AsyncClient, account: Account) -> None:
    response = await client.get(f"/api/v1/tasks?tag={'t' * 20000}", headers=account.headers)
    assert response.status_code in (400, 414, 431), response.text


async def test_invalid_utf8_body_is_a_4xx(client: httpx.AsyncClient, account: Account) -> None:
    response = await client.post(
        "/api/v1/tasks",
        content=b'{"title": "bad \xff\xfe bytes"}',
        headers={**account.headers, "Content-Type": "application/json"},
    )
    assert_problem(response, 400, 422)
    assert await snapshot(client, account) == []


async def test_invalid_utf8_query_is_not_a_5xx(client: httpx.AsyncClient, account: Account) -> None:
    response = await client.get("/api/v1/search?q=%FF%FEabc", headers=account.headers)
    assert response.status_code < 500, response.text


async def test_invalid_utf8_in_a_public_route(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/login",
        content=b'{"email": "\xc3\x28@example.test", "password": "\xff"}',
        headers={"Content-Type": "application/json"},
    )
    assert_problem(response, 400, 422)


def nested(depth: int) -> bytes:
    return b'{"title": "deep", "tags": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/tasks", b"[" * 10_000 + b"]" * 10_000),
        ("POST", "/api/v1/tasks", nested(10_000)),
        ("POST", "/api/v1/tasks", b'{"a":' * 10_000 + b"1" + b"}" * 10_000),
        ("POST", "/api/v1/auth/login", b"[" * 10_000 + b"]" * 10_000),
        ("POST", "/api/v1/auth/register", b'{"a":' * 10_000 + b"1" + b"}" * 10_000),
    ],
)
async def test_deeply_nested_json_is_a_quick_4xx(
    client: httpx.AsyncClient, account: Account, method: str, path: str, body: bytes
) -> None:
    started = time.monotonic()
    response = await client.request(
        method, path, content=body, headers={**account.headers, "Content-Type": "application/json"}
    )
    assert time.monotonic() - started < ANSWER_WITHIN_S
    assert_problem(response, 400, 413, 422)
    assert await snapshot(client, account) == []


async def test_deeply_nested_patch_is_a_quick_4xx(
    client: httpx.AsyncClient, account: Account
) -> None:
    task = await create_task(client, account, title="keep me")
    response = await client.patch(
        f"/api/v1/tasks/{task['id']}",
        content=b'{"description":' + b"[" * 10_000 + b"]" * 10_000 + b"}",
        headers={**account.headers, "Content-Type": "application/merge-patch+json"},
    )
    assert_problem(response, 400, 415, 422)
    assert await snapshot(client, account) == [task]
