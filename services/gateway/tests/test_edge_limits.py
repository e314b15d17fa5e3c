"""Issue #19's pure pieces: client addresses, body reading, connection budgets, the
invalid-credential throttle and API-key scopes."""

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from prometheus_client import CollectorRegistry
from redis.exceptions import ConnectionError as RedisConnectionError
from starlette.types import Message

from services.gateway.app import proxy
from services.gateway.app.addresses import client_address, parse_networks
from services.gateway.app.client import ConnectionBudget
from services.gateway.app.errors import (
    BodyTimeout,
    BodyTooLarge,
    CredentialsThrottled,
    MissingScope,
    UpstreamUnavailable,
)
from services.gateway.app.failures import InvalidCredentialThrottle
from services.gateway.app.metrics import GatewayMetrics
from services.gateway.app.proxy import ClientGone, check_scope, drain, read_body
from services.gateway.app.ratelimit import Decision, Policy
from services.gateway.app.routing import resolve
from services.gateway.app.service import Admission
from shared.identity import Identity

TRUSTED = parse_networks(["10.0.0.0/8", "2001:db8:ff::/48"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("203.0.113.5", [b"6.6.6.6"], "203.0.113.5"),  # untrusted peer: its claim is ignored
        ("10.0.0.1", [b"198.51.100.7"], "198.51.100.7"),
        ("10.0.0.1", [b"6.6.6.6, 198.51.100.7"], "198.51.100.7"),  # left of it: client-written
        ("10.0.0.1", [b"198.51.100.7, 10.0.0.2"], "198.51.100.7"),  # another trusted hop
        ("10.0.0.1", [b"6.6.6.6", b"198.51.100.7"], "198.51.100.7"),  # repeated fields
        ("10.0.0.1", [], "10.0.0.1"),
        ("10.0.0.1", [b"not-an-address"], "10.0.0.1"),
        ("2001:db8:ff::1", [b"2001:db8:1::9"], "2001:db8:1::9"),
    ],
)
def test_forwarded_for_counts_only_from_trusted_proxies(
    peer: str, forwarded: list[bytes], client: str
) -> None:
    assert client_address(peer, forwarded, TRUSTED) == client


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert client_address("10.0.0.1", [b"198.51.100.7"], []) == "10.0.0.1"


def test_a_malformed_trusted_proxy_is_refused() -> None:
    with pytest.raises(ValueError, match="does not appear"):
        parse_networks(["10.0.0.0/8", "nonsense"])


def receiver(*messages: Message, stall: bool = False) -> Callable[[], Awaitable[Message]]:
    queue = list(messages)

    async def receive() -> Message:
        if not queue and stall:
            await asyncio.sleep(3600)
        return queue.pop(0)

    return receive


def body(chunk: bytes, more: bool = False) -> Message:
    return {"type": "http.request", "body": chunk, "more_body": more}


async def test_a_body_is_read_whole_before_anything_else() -> None:
    receive = receiver(body(b"ab", True), body(b"", True), body(b"cd"))
    assert await read_body(receive, limit=4, within_seconds=1) == b"abcd"


async def test_an_oversized_body_stops_at_the_limit() -> None:
    with pytest.raises(BodyTooLarge):
        await read_body(receiver(body(b"abc", True), body(b"de")), limit=4, within_seconds=1)


async def test_a_disconnect_or_a_stall_is_never_a_body() -> None:
    with pytest.raises(ClientGone):
        await read_body(
            receiver(body(b"ab", True), {"type": "http.disconnect"}), limit=9, within_seconds=1
        )
    with pytest.raises(BodyTimeout):
        await read_body(receiver(body(b"ab", True), stall=True), limit=9, within_seconds=0.05)


async def test_the_rest_of_an_oversized_body_is_drained_within_bounds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # All of it when it ends soon: the client then reads the 413 instead of a reset.
    rest = [body(b"x" * 10, True), body(b"x" * 10, True), body(b"")]
    receive = receiver(*rest, body(b"never read"))
    await drain(receive)
    assert await receive() == body(b"never read")
    # At most DRAIN_MAX_BYTES of an endless body, and never longer than DRAIN_SECONDS.
    monkeypatch.setattr(proxy, "DRAIN_MAX_BYTES", 25)
    endless = receiver(*(body(b"x" * 10, True) for _ in range(10)))
    await drain(endless)
    assert len([await endless() for _ in range(7)]) == 7
    monkeypatch.setattr(proxy, "DRAIN_SECONDS", 0.05)
    await drain(receiver(body(b"x", True), stall=True))


async def test_waiting_for_a_connection_has_a_deadline() -> None:
    budget = ConnectionBudget("tasks", size=1, wait_seconds=0.05)
    async with budget.slot():
        with pytest.raises(UpstreamUnavailable) as busy:
            async with budget.slot():
                pass
    assert busy.value.headers == {"Retry-After": "1"}
    async with budget.slot():  # released again
        pass


class DownRedis:
    def pipeline(self, transaction: bool = True) -> None:
        raise RedisConnectionError("down")


def throttle(limit: int) -> InvalidCredentialThrottle:
    metrics = GatewayMetrics(CollectorRegistry())
    return InvalidCredentialThrottle(DownRedis(), metrics, limit=limit, window_seconds=60)  # type: ignore[arg-type]


async def test_invalid_credentials_past_the_limit_are_refused_before_any_lookup() -> None:
    limiter = throttle(3)
    for _ in range(3):
        limiter.check("198.51.100.7")
        await limiter.failed("198.51.100.7")
    with pytest.raises(CredentialsThrottled):
        limiter.check("198.51.100.7")
    limiter.check("198.51.100.8")  # another address is not affected


async def test_lookups_in_flight_count_toward_the_limit() -> None:
    limiter = throttle(2)
    async with limiter.lookup("a"), limiter.lookup("a"):
        with pytest.raises(CredentialsThrottled):
            async with limiter.lookup("a"):
                pass
    async with limiter.lookup("a"):  # both finished without a failure
        pass


def admission(scopes: frozenset[str] | None) -> Admission:
    identity = Identity(user_id="u1", via="api_key" if scopes is not None else "jwt")
    return Admission(identity, Policy("user", 1, 1), Decision(True, 1, 0, 0), scopes)


def test_a_key_without_the_scope_is_refused_and_a_token_never_is() -> None:
    tasks = resolve("/api/v1/tasks")
    assert tasks is not None
    check_scope(admission(None), tasks, "POST")
    check_scope(admission(frozenset({"tasks:read"})), tasks, "GET")
    with pytest.raises(MissingScope):
        check_scope(admission(frozenset({"tasks:read"})), tasks, "POST")
    me = resolve("/api/v1/auth/me")
    assert me is not None
    check_scope(admission(frozenset()), me, "GET")


class SlowRedis:
    """A Redis that has not answered yet."""

    def __init__(self) -> None:
        self.answer = asyncio.Event()

    def pipeline(self, transaction: bool = True) -> "SlowRedis":
        return self

    async def __aenter__(self) -> "SlowRedis":
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def incr(self, key: str) -> None: ...

    def expire(self, key: str, seconds: int, nx: bool = False) -> None: ...

    def pttl(self, key: str) -> None: ...

    async def execute(self) -> list[int]:
        await self.answer.wait()
        return [1, 1, 60_000]


async def test_a_failure_counts_before_redis_has_answered() -> None:
    redis = SlowRedis()
    metrics = GatewayMetrics(CollectorRegistry())
    limiter = InvalidCredentialThrottle(redis, metrics, limit=1, window_seconds=60)  # type: ignore[arg-type]
    recording = asyncio.create_task(limiter.failed("a"))
    await asyncio.sleep(0)
    with pytest.raises(CredentialsThrottled):
        async with limiter.lookup("a"):
            pass
    redis.answer.set()
    await recording
    with pytest.raises(CredentialsThrottled):
        limiter.check("a")
