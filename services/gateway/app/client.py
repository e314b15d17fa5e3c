"""The one pooled HTTP client to the upstream services, with replica choice and retries.

aiohttp, not httpx: it costs a fraction of httpx's client CPU per request
(docs/decisions/0831-gateway-upstream-client.md).

Every body is held whole before it is sent (the proxy reads it first), so the request's
framing is the gateway's own and a connection goes back to the pool only after a complete
exchange. Each upstream service has its own budget of connections; a request waits for one at
most ``upstream_pool_wait_seconds`` (then 503 + ``Retry-After``), so a stalled service cannot
take the others' connections.

Breakers count upstream faults only: connect errors, timeouts, protocol errors and 5xx
answers. Nothing a client sends reaches this module before it is known to be whole and sane.

Retries: a connection that could not be established carried no request, so that attempt is
retried on the next replica for any method. Errors after the request may have been sent (a
dropped keep-alive connection, a protocol error) are retried only for idempotent methods.
Read timeouts are never retried: the upstream may be working.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime

import aiohttp
import orjson
from yarl import URL

from services.gateway.app.config import Settings
from services.gateway.app.errors import (
    BadUpstream,
    UnforwardableRequest,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from services.gateway.app.guard import Credentials
from services.gateway.app.metrics import GatewayMetrics
from services.gateway.app.service import ResolvedKey
from services.gateway.app.upstreams import Replica, ReplicaPool, StateListener
from shared.identity import IDENTITY_HEADER, Identity, sign_identity

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RESOLVE_PATH = "/internal/v1/api-keys/resolve"
SESSION_CHECK_PATH = "/internal/v1/sessions/check"
Headers = list[tuple[str, str]]
POOL_WAIT_RETRY_AFTER_SECONDS = 1


# Forward the client's own headers; aiohttp must not add or rewrite any of these.
NO_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")
CONNECT_ERRORS = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
TIMEOUT_ERRORS = (aiohttp.ServerTimeoutError, asyncio.TimeoutError)


def open_http_client(settings: Settings) -> aiohttp.ClientSession:
    timeout = aiohttp.ClientTimeout(
        total=None,
        sock_connect=settings.upstream_connect_timeout_seconds,
        sock_read=settings.upstream_read_timeout_seconds,
    )
    # Keep-alive below uvicorn's 5 s so we never reuse a connection it is closing. No limit
    # here: each service's budget (ConnectionBudget) bounds and times the wait instead.
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=4.0)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        auto_decompress=False,
        skip_auto_headers=NO_AUTO_HEADERS,
        cookie_jar=aiohttp.DummyCookieJar(),  # never carry one client's cookies to another
    )


def build_pools(settings: Settings, metrics: GatewayMetrics) -> dict[str, ReplicaPool]:
    urls = {
        "auth": settings.auth_urls,
        "tasks": settings.tasks_urls,
        "search": settings.search_urls,
    }
    pools = {}
    for service, replicas in urls.items():
        pool = ReplicaPool.of(
            service,
            replicas,
            failure_threshold=settings.breaker_failure_threshold,
            cooldown_seconds=settings.breaker_cooldown_seconds,
        )
        pool.on_state_change = _circuit_gauge(metrics, service)
        for index in range(len(replicas)):
            pool.on_state_change(index, False)
        pools[service] = pool
    return pools


def _circuit_gauge(metrics: GatewayMetrics, service: str) -> StateListener:
    def on_change(index: int, is_open: bool) -> None:
        metrics.circuit_open.labels(service, str(index)).set(1 if is_open else 0)

    return on_change


class ConnectionBudget:
    """At most ``size`` exchanges with one service at once; waiting for a slot has a deadline."""

    def __init__(self, service: str, *, size: int, wait_seconds: float) -> None:
        self._service = service
        self._slots = asyncio.Semaphore(size)
        self._wait_seconds = wait_seconds

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._slots.locked():
            await self._wait_for_slot()
        else:  # a free slot is taken at once: no deadline to arm
            await self._slots.acquire()
        try:
            yield
        finally:
            self._slots.release()

    async def _wait_for_slot(self) -> None:
        try:
            async with asyncio.timeout(self._wait_seconds):
                await self._slots.acquire()
        except TimeoutError:
            raise UpstreamUnavailable(
                f"The {self._service} service is busy; try again shortly.",
                retry_after=POOL_WAIT_RETRY_AFTER_SECONDS,
            ) from None


def build_budgets(settings: Settings) -> dict[str, ConnectionBudget]:
    """Per service, one budget for requests and one (``<service>:stream``) for streams."""
    budgets = {}
    for service in ("auth", "tasks", "search"):
        budgets[service] = ConnectionBudget(
            service,
            size=settings.upstream_max_connections,
            wait_seconds=settings.upstream_pool_wait_seconds,
        )
        budgets[stream_budget(service)] = ConnectionBudget(
            service,
            size=settings.upstream_max_streams,
            wait_seconds=settings.upstream_pool_wait_seconds,
        )
    return budgets


def stream_budget(service: str) -> str:
    return f"{service}:stream"


class _Retryable(Exception):
    """An attempt failed in a way another replica might not: ``connect`` or ``protocol``."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


class UpstreamClient:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        pools: Mapping[str, ReplicaPool],
        metrics: GatewayMetrics,
        *,
        budgets: Mapping[str, ConnectionBudget],
        signing_secret: bytes,
    ) -> None:
        self.http = http
        self.pools = pools
        self._metrics = metrics
        self._budgets = budgets
        self._secret = signing_secret

    @asynccontextmanager
    async def exchange(
        self,
        service: str,
        *,
        method: str,
        target: str,
        headers: Headers,
        body: bytes,
        stream: bool = False,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """One request to a replica of ``service``; the response body streams inside.

        Leaving the block releases the connection: back to the pool if the response was read
        to its end, closed otherwise. ``stream``: a long-lived response, counted against the
        service's stream budget instead of its request budget.
        """
        budget = self._budgets[stream_budget(service) if stream else service]
        async with budget.slot():
            response = await self._send(
                service, method=method, target=target, headers=headers, body=body
            )
            try:
                yield response
            finally:
                response.release()

    async def _send(
        self, service: str, *, method: str, target: str, headers: Headers, body: bytes
    ) -> aiohttp.ClientResponse:
        """Send to one healthy replica, retrying where safe."""
        pool = self.pools[service]
        tried: set[int] = set()
        while True:
            replica = self._choose(pool, tried)
            tried.add(replica.index)
            try:
                return await self._attempt(pool, replica, method, target, headers, body)
            except _Retryable as failure:
                retry_allowed = method in IDEMPOTENT_METHODS or failure.kind == "connect"
                if not (retry_allowed and len(tried) < len(pool.replicas)):
                    raise BadUpstream(failure.detail) from None

    async def _attempt(
        self,
        pool: ReplicaPool,
        replica: Replica,
        method: str,
        target: str,
        headers: Headers,
        body: bytes,
    ) -> aiohttp.ClientResponse:
        started = time.perf_counter()
        try:
            response = await self.http.request(
                method,
                URL(replica.url + target, encoded=True),
                headers=headers,
                data=body or None,
                allow_redirects=False,
            )
        except (aiohttp.InvalidURL, ValueError):
            # The client's request target or headers, not the replica, are at fault.
            pool.release(replica)
            raise UnforwardableRequest("The request cannot be forwarded as sent.") from None
        except CONNECT_ERRORS:
            self._failed(pool, replica, "connect")
            raise _Retryable(
                "connect", f"The {pool.service} service could not be reached."
            ) from None
        except TIMEOUT_ERRORS:
            self._failed(pool, replica, "timeout")
            raise UpstreamTimeout(f"The {pool.service} service did not answer in time.") from None
        except aiohttp.ClientError:
            self._failed(pool, replica, "protocol")
            raise _Retryable(
                "protocol", f"The {pool.service} service gave no valid answer."
            ) from None
        except BaseException:
            pool.release(replica)
            raise
        if response.status >= 500:
            self._failed(pool, replica, "status")
        else:
            pool.succeeded(replica)
        self._metrics.upstream_latency.labels(pool.service).observe(time.perf_counter() - started)
        return response

    def _choose(self, pool: ReplicaPool, tried: set[int]) -> Replica:
        try:
            return pool.choose(frozenset(tried))
        except UpstreamUnavailable:
            if tried:  # every replica was tried and failed just now
                raise BadUpstream(f"The {pool.service} service could not be reached.") from None
            raise

    def _failed(self, pool: ReplicaPool, replica: Replica, kind: str) -> None:
        pool.failed(replica)
        self._metrics.upstream_failures.labels(pool.service, kind).inc()

    async def fetch(self, service: str, path: str) -> bytes:
        """GET a small document (JWKS, OpenAPI) from a replica; raise unless it is a 200."""
        async with self.exchange(
            service, method="GET", target=path, headers=[], body=b""
        ) as response:
            content = await response.read()
        if response.status != 200:
            raise BadUpstream(f"{service} answered {response.status} for {path}")
        return content

    async def resolve_api_key(self, key: str) -> ResolvedKey | None:
        """Ask auth who owns ``key``; ``None`` when auth says it is not a valid key."""
        status, content = await self._post_internal(RESOLVE_PATH, {"key": key})
        if status in (401, 404, 422):
            return None
        if status != 200:
            raise BadUpstream("The auth service could not check the API key.")
        try:
            return parse_resolved_key(content)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise BadUpstream("The auth service gave an unexpected API-key answer.") from None

    async def check_session(self, credentials: Credentials) -> bool:
        """Ask auth whether the JWT's session still vouches for it (used while Redis is down)."""
        payload = {
            "session_id": credentials.session_id,
            "user_id": credentials.user_id,
            "issued_at": credentials.issued_at,
        }
        status, content = await self._post_internal(SESSION_CHECK_PATH, payload)
        if status == 422:  # claims auth cannot have issued: no session of ours
            return False
        active = parse_session_check(content) if status == 200 else None
        if active is None:
            raise BadUpstream("The auth service could not check the session.")
        return active

    async def _post_internal(self, path: str, payload: dict[str, object]) -> tuple[int, bytes]:
        identity = Identity(user_id="gateway", via="service")
        body = orjson.dumps(payload)
        signed = sign_identity(identity, secret=self._secret, method="POST", path=path, body=body)
        headers = [("content-type", "application/json"), (IDENTITY_HEADER, signed)]
        async with self.exchange(
            "auth", method="POST", target=path, headers=headers, body=body
        ) as response:
            return response.status, await response.read()


def parse_resolved_key(content: bytes) -> ResolvedKey:
    data = orjson.loads(content)
    expires = data.get("expires_at")
    if isinstance(expires, str):
        expires = datetime.fromisoformat(expires.replace("Z", "+00:00")).timestamp()
    scopes = data.get("scopes", [])
    if not isinstance(scopes, list):
        raise TypeError("scopes must be a list")
    return ResolvedKey(
        str(data["user_id"]),
        str(data["key_id"]),
        None if expires is None else float(expires),
        frozenset(str(scope) for scope in scopes),
    )


def parse_session_check(content: bytes) -> bool | None:
    """Auth's ``{"active": bool}``; ``None`` for anything else."""
    try:
        active = orjson.loads(content)["active"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    return active if isinstance(active, bool) else None
