"""The one pooled HTTP client to the upstream services, with replica choice and retries.

Retries: a connection that could not be established carried no request, so that attempt is
retried on the next replica for any method whose body is still in hand. Errors after the
request may have been sent (a dropped keep-alive connection, a protocol error) are retried
only for idempotent methods. Read timeouts are never retried: the upstream may be working.
"""

import time
from collections.abc import AsyncIterator, Mapping
from datetime import datetime

import httpx
import orjson

from services.gateway.app.config import Settings
from services.gateway.app.errors import BadUpstream, UpstreamTimeout, UpstreamUnavailable
from services.gateway.app.metrics import GatewayMetrics
from services.gateway.app.service import ResolvedKey
from services.gateway.app.upstreams import Replica, ReplicaPool, StateListener
from shared.identity import IDENTITY_HEADER, Identity, sign_identity

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RESOLVE_PATH = "/internal/v1/api-keys/resolve"
Body = bytes | AsyncIterator[bytes]
Headers = list[tuple[bytes, bytes]]


def open_http_client(settings: Settings) -> httpx.AsyncClient:
    timeout = httpx.Timeout(
        connect=settings.upstream_connect_timeout_seconds,
        read=settings.upstream_read_timeout_seconds,
        write=settings.upstream_read_timeout_seconds,
        pool=settings.upstream_connect_timeout_seconds,
    )
    # Keep-alive expiry below uvicorn's 5 s so we never reuse a connection it is closing.
    limits = httpx.Limits(
        max_connections=settings.upstream_max_connections,
        max_keepalive_connections=settings.upstream_max_connections,
        keepalive_expiry=4.0,
    )
    client = httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False)
    client.headers.clear()  # forward the client's headers, not httpx's defaults
    return client


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


class UpstreamClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        pools: Mapping[str, ReplicaPool],
        metrics: GatewayMetrics,
        *,
        signing_secret: bytes,
    ) -> None:
        self.http = http
        self.pools = pools
        self._metrics = metrics
        self._secret = signing_secret

    async def send(
        self, service: str, *, method: str, target: str, headers: Headers, body: Body
    ) -> httpx.Response:
        """Send to one healthy replica (retrying where safe); the response body streams."""
        pool = self.pools[service]
        replayable = isinstance(body, bytes)
        tried: set[int] = set()
        while True:
            replica = self._choose(pool, tried)
            tried.add(replica.index)
            started = time.perf_counter()
            try:
                request = self.http.build_request(
                    method, replica.url + target, headers=headers, content=body
                )
                response = await self.http.send(request, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                self._failed(pool, replica, "connect")
                if replayable and len(tried) < len(pool.replicas):
                    continue
                raise BadUpstream(f"The {service} service could not be reached.") from None
            except httpx.TimeoutException:
                self._failed(pool, replica, "timeout")
                raise UpstreamTimeout(f"The {service} service did not answer in time.") from None
            except httpx.TransportError:
                self._failed(pool, replica, "protocol")
                if replayable and method in IDEMPOTENT_METHODS and len(tried) < len(pool.replicas):
                    continue
                raise BadUpstream(f"The {service} service gave no valid answer.") from None
            except BaseException:
                pool.release(replica)
                raise
            pool.succeeded(replica)
            self._metrics.upstream_latency.labels(service).observe(time.perf_counter() - started)
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
        response = await self.send(service, method="GET", target=path, headers=[], body=b"")
        try:
            content = await response.aread()
        finally:
            await response.aclose()
        if response.status_code != 200:
            raise BadUpstream(f"{service} answered {response.status_code} for {path}")
        return content

    async def resolve_api_key(self, key: str) -> ResolvedKey | None:
        """Ask auth who owns ``key``; ``None`` when auth says it is not a valid key."""
        identity = Identity(user_id="gateway", via="service")
        signed = sign_identity(identity, secret=self._secret, method="POST", path=RESOLVE_PATH)
        headers = [
            (b"content-type", b"application/json"),
            (IDENTITY_HEADER.encode(), signed.encode()),
        ]
        response = await self.send(
            "auth",
            method="POST",
            target=RESOLVE_PATH,
            headers=headers,
            body=orjson.dumps({"key": key}),
        )
        try:
            content = await response.aread()
        finally:
            await response.aclose()
        if response.status_code in (401, 404, 422):
            return None
        if response.status_code != 200:
            raise BadUpstream("The auth service could not check the API key.")
        return parse_resolved_key(content)


def parse_resolved_key(content: bytes) -> ResolvedKey:
    data = orjson.loads(content)
    expires = data.get("expires_at")
    if isinstance(expires, str):
        expires = datetime.fromisoformat(expires.replace("Z", "+00:00")).timestamp()
    return ResolvedKey(
        str(data["user_id"]), str(data["key_id"]), None if expires is None else float(expires)
    )
