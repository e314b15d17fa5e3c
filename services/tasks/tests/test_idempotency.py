"""Idempotency-Key around the tasks routes, with an in-memory store: one run per key."""

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from pydantic import SecretStr
from starlette.types import Message, Receive, Scope, Send

from services.tasks.app.idempotency import (
    ABANDONED_AFTER,
    RETENTION,
    IdempotencyMiddleware,
    InMemoryIdempotencyStore,
)
from shared.identity import IDENTITY_HEADER, Identity, sign_identity

SECRET = "unit-test-internal-signing-key-0123456789abcdef"
PATH = "/api/v1/tasks"


class CountingApp:
    """Answers 201 with a body numbered by how many times it ran; can be told to fail."""

    def __init__(self, status: int = 201, delay: float = 0) -> None:
        self.runs = 0
        self.status = status
        self.delay = delay

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.runs += 1
        body = (await receive())["body"]
        await asyncio.sleep(self.delay)
        answer = orjson.dumps({"run": self.runs, "echo": body.decode()})
        headers = [(b"content-type", b"application/json"), (b"x-request-id", b"first")]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer})


def scope_for(
    store: InMemoryIdempotencyStore,
    user: str,
    key: str | None,
    method: str = "POST",
    body: bytes = b"{}",
) -> Scope:
    settings = SimpleNamespace(internal_signing_secret=SecretStr(SECRET))
    app = SimpleNamespace(state=SimpleNamespace(settings=settings, idempotency=store))
    identity = Identity(user_id=user, via="jwt")
    signed = sign_identity(identity, secret=SECRET.encode(), method=method, path=PATH, body=body)
    headers = [(IDENTITY_HEADER.encode(), signed.encode())]
    if key is not None:
        headers.append((b"idempotency-key", key.encode()))
    return {"type": "http", "method": method, "path": PATH, "query_string": b"",
            "headers": headers, "app": app}  # fmt: skip


async def call(middleware: IdempotencyMiddleware, scope: Scope, body: bytes) -> dict[str, Any]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await middleware(scope, receive, send)
    start, answer = sent
    return {
        "status": start["status"],
        "headers": dict(start["headers"]),
        "body": orjson.loads(answer["body"]),
    }


async def test_the_same_key_and_body_replays_the_first_answer_without_running_again() -> None:
    store, app = InMemoryIdempotencyStore(), CountingApp()
    middleware = IdempotencyMiddleware(app)
    first = await call(
        middleware, scope_for(store, "u1", "k1", body=b'{"title":"a"}'), b'{"title":"a"}'
    )
    again = await call(
        middleware, scope_for(store, "u1", "k1", body=b'{"title":"a"}'), b'{"title":"a"}'
    )
    assert app.runs == 1
    assert again["status"] == first["status"] == 201
    assert again["body"] == first["body"] == {"run": 1, "echo": '{"title":"a"}'}
    assert again["headers"][b"idempotent-replayed"] == b"true"
    assert b"idempotent-replayed" not in first["headers"]
    assert b"x-request-id" not in again["headers"]


async def test_another_body_with_the_same_key_is_a_422_and_runs_nothing() -> None:
    store, app = InMemoryIdempotencyStore(), CountingApp()
    middleware = IdempotencyMiddleware(app)
    await call(middleware, scope_for(store, "u1", "k1", body=b'{"title":"a"}'), b'{"title":"a"}')
    other = await call(
        middleware, scope_for(store, "u1", "k1", body=b'{"title":"b"}'), b'{"title":"b"}'
    )
    assert other["status"] == 422
    assert other["headers"][b"content-type"] == b"application/problem+json"
    assert app.runs == 1


async def test_keys_belong_to_their_user() -> None:
    store, app = InMemoryIdempotencyStore(), CountingApp()
    middleware = IdempotencyMiddleware(app)
    await call(middleware, scope_for(store, "u1", "k1"), b"{}")
    theirs = await call(middleware, scope_for(store, "u2", "k1"), b"{}")
    assert theirs["body"]["run"] == 2
    assert b"idempotent-replayed" not in theirs["headers"]


async def test_concurrent_retries_wait_for_the_first_answer() -> None:
    store, app = InMemoryIdempotencyStore(), CountingApp(delay=0.05)
    middleware = IdempotencyMiddleware(app)
    answers = await asyncio.gather(
        *(call(middleware, scope_for(store, "u1", "k1"), b"{}") for _ in range(10))
    )
    assert app.runs == 1
    assert {answer["body"]["run"] for answer in answers} == {1}
    assert sum(b"idempotent-replayed" in answer["headers"] for answer in answers) == 9


async def test_a_server_error_is_not_kept_so_a_retry_runs_again() -> None:
    store, failing = InMemoryIdempotencyStore(), CountingApp(status=503)
    await call(IdempotencyMiddleware(failing), scope_for(store, "u1", "k1"), b"{}")
    working = CountingApp()
    retried = await call(IdempotencyMiddleware(working), scope_for(store, "u1", "k1"), b"{}")
    assert retried["status"] == 201
    assert working.runs == 1


@pytest.mark.parametrize("key", ["", "a b", "é", "x" * 256])
async def test_a_key_that_is_not_1_to_255_visible_ascii_is_a_422(key: str) -> None:
    app = CountingApp()
    scope = scope_for(InMemoryIdempotencyStore(), "u1", key)
    answer = await call(IdempotencyMiddleware(app), scope, b"{}")
    assert answer["status"] == 422
    assert answer["body"]["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert app.runs == 0


async def test_without_a_key_or_on_a_read_nothing_is_kept() -> None:
    store, app = InMemoryIdempotencyStore(), CountingApp()
    middleware = IdempotencyMiddleware(app)
    await call(middleware, scope_for(store, "u1", None), b"{}")
    await call(middleware, scope_for(store, "u1", "k1", method="GET"), b"")
    assert store.records == {}
    assert app.runs == 2


async def test_expired_and_abandoned_records_can_be_claimed_again() -> None:
    store, app = InMemoryIdempotencyStore(), CountingApp()
    middleware = IdempotencyMiddleware(app)
    await call(middleware, scope_for(store, "u1", "done"), b"{}")
    await call(middleware, scope_for(store, "u1", "stuck"), b"{}")
    (done_id, stuck_id) = store.records
    store.records[done_id]["created_at"] -= RETENTION + timedelta(seconds=1)
    del store.records[stuck_id]["status"]
    store.records[stuck_id]["created_at"] -= ABANDONED_AFTER + timedelta(seconds=1)
    assert (await call(middleware, scope_for(store, "u1", "done"), b"{}"))["body"]["run"] == 3
    assert (await call(middleware, scope_for(store, "u1", "stuck"), b"{}"))["body"]["run"] == 4
    assert await store.forget_expired(now=datetime.now(UTC) + RETENTION * 2) == 2
