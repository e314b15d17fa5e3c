"""The gateway app: ``create_app(settings)``; clients open in the lifespan.

Request path, outermost first: request context (id, trace, access log, metrics) → the edge
(size limits, security headers; CORS and gzip when asked for) → the proxy, which forwards
routed paths and lets the rest fall through to FastAPI (``/health``, a plain ``/ready``,
OpenAPI, Swagger UI, 404s).
Metrics and readiness details are on the ops listener (``ops.py``), not on this port.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from services.gateway.app.addresses import parse_networks
from services.gateway.app.client import (
    UpstreamClient,
    build_budgets,
    build_pools,
    open_http_client,
)
from services.gateway.app.config import Settings
from services.gateway.app.edges import EdgeMiddleware, RequestLimits
from services.gateway.app.errors import PROBLEM_STATUSES
from services.gateway.app.failures import InvalidCredentialThrottle
from services.gateway.app.fallback import FallbackRevocation
from services.gateway.app.guard import AccessGuard
from services.gateway.app.metrics import GatewayMetrics
from services.gateway.app.openapi import OpenApiCache
from services.gateway.app.ops import ops_listener
from services.gateway.app.pool_metrics import PoolMetrics
from services.gateway.app.pools import PoolRouter, build_canary_pools, thresholds
from services.gateway.app.profiles import ProfileCache, fetch_from_auth
from services.gateway.app.proxy import ProxyMiddleware, Runtime, RuntimeHolder, internal_hosts
from services.gateway.app.ratelimit import Policy
from services.gateway.app.routes import ROUTERS
from services.gateway.app.routes.docs import ASSETS
from services.gateway.app.service import ApiKeyCache, Gatekeeper
from services.gateway.app.tokens import JwksCache, TokenVerifier
from services.gateway.app.webapp import WebAppMiddleware
from shared.app import build_service_app
from shared.clients import open_redis, redis_ping
from shared.flags import open_flags

UPSTREAMS = ["auth", "tasks", "search"]
CORS_HEADERS = [
    "Authorization", "Content-Type", "X-API-Key", "X-CSRF-Token", "X-Request-ID",
    "If-Match", "If-None-Match", "traceparent", "X-Consistency-Token", "Idempotency-Key",
    "Last-Event-ID",
]  # fmt: skip
EXPOSED_HEADERS = [
    "ETag",
    "Location",
    "X-Request-ID",
    "RateLimit",
    "RateLimit-Policy",
    "Retry-After",
    "X-Consistency-Token",
    "X-Search-Stale",
    "Idempotent-Replayed",
]


def build_gatekeeper(
    settings: Settings,
    upstreams: UpstreamClient,
    guard: AccessGuard,
    failures: InvalidCredentialThrottle,
    metrics: GatewayMetrics,
) -> Gatekeeper:
    jwks = JwksCache(
        lambda: upstreams.fetch("auth", "/.well-known/jwks.json"),
        metrics,
        refresh_seconds=settings.jwks_refresh_seconds,
        min_refetch_seconds=settings.jwks_min_refetch_seconds,
    )
    verifier = TokenVerifier(
        jwks,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        leeway=settings.jwt_leeway_seconds,
    )
    api_keys = ApiKeyCache(upstreams.resolve_api_key, ttl_seconds=settings.api_key_cache_seconds)
    return Gatekeeper(
        verifier=verifier,
        api_keys=api_keys,
        guard=guard,
        fallback=FallbackRevocation(upstreams.check_session, api_keys.resolves_freshly, metrics),
        failures=failures,
        user_policy=Policy("user", settings.user_rate_per_second, settings.user_burst),
        public_policy=Policy("public", settings.public_rate_per_second, settings.public_burst),
        metrics=metrics,
    )


def edge_middleware(settings: Settings, holder: RuntimeHolder) -> list[Middleware]:
    limits = RequestLimits(
        max_url_bytes=settings.max_url_bytes,
        max_header_bytes=settings.max_header_bytes,
        max_body_bytes=settings.max_body_bytes,
    )
    cors: dict[str, Any] = {
        "allow_origins": settings.cors_origins,
        "allow_credentials": True,
        "allow_methods": ["GET", "POST", "PATCH", "PUT", "DELETE"],
        "allow_headers": CORS_HEADERS,
        "expose_headers": EXPOSED_HEADERS,
        "max_age": 600,
    }
    return [
        Middleware(EdgeMiddleware, limits=limits, cors=cors, gzip_minimum_size=1024),
        Middleware(ProxyMiddleware, holder=holder),
    ]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    holder = RuntimeHolder()
    secret = settings.internal_signing_secret.get_secret_value().encode()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        metrics = GatewayMetrics(app.state.metrics.registry)
        async with AsyncExitStack() as stack:
            redis = await stack.enter_async_context(open_redis(settings.redis_url, timeout_s=0.5))
            http = await stack.enter_async_context(open_http_client(settings))
            upstreams = UpstreamClient(
                http,
                build_pools(settings, metrics),
                metrics,
                budgets=build_budgets(settings),
                signing_secret=secret,
            )
            guard = AccessGuard(redis, metrics, retry_seconds=settings.redis_retry_seconds)
            failures = InvalidCredentialThrottle(
                redis,
                metrics,
                limit=settings.invalid_credentials_per_address,
                window_seconds=settings.invalid_credentials_window_seconds,
            )
            app.state.flags = stack.enter_context(open_flags(settings, domain=f"gateway-{id(app)}"))
            canary_pools = build_canary_pools(settings, metrics)
            pools = PoolRouter(
                stable=upstreams,
                canary=UpstreamClient(
                    http,
                    canary_pools,
                    metrics,
                    budgets=build_budgets(settings),
                    signing_secret=secret,
                ),
                services=canary_pools,
                flags=app.state.flags,
                metrics=PoolMetrics(app.state.metrics.registry),
                limits=thresholds(settings),
                window_seconds=settings.canary_window_seconds,
            )
            interval = settings.canary_analysis_interval_seconds
            await stack.enter_async_context(pools.running(interval_seconds=interval))
            holder.runtime = Runtime(
                upstreams=upstreams,
                gatekeeper=build_gatekeeper(settings, upstreams, guard, failures, metrics),
                signing_secret=secret,
                max_body_bytes=settings.max_body_bytes,
                body_read_timeout_seconds=settings.body_read_timeout_seconds,
                trusted_proxies=parse_networks(settings.trusted_proxies),
                pools=pools,
                internal_hosts=internal_hosts(settings.upstream_urls()),
            )
            app.state.gatekeeper = holder.runtime.gatekeeper
            app.state.profiles = ProfileCache(fetch_from_auth(upstreams, secret=secret))
            app.state.openapi = OpenApiCache(_documents(app, upstreams), [*UPSTREAMS, "gateway"])
            app.state.readiness_checks = {
                "redis": lambda: redis_ping(redis),
                **{name: _replica_check(upstreams, name) for name in UPSTREAMS},
            }
            await stack.enter_async_context(
                ops_listener(app.state, host=settings.ops_host, port=settings.ops_port)
            )
            yield
            holder.runtime = None

    app = build_service_app(
        settings=settings,
        title="Taskstream gateway",
        lifespan=lifespan,
        routers=ROUTERS,
        domain_errors=PROBLEM_STATUSES,
        ops_details=False,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    # No redirect to a slash-less path: a trailing slash is a 404 problem, like any unknown path.
    app.router.redirect_slashes = False
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")
    # Right inside the request-context middleware, so proxied requests get ids and metrics too.
    app.user_middleware[1:1] = edge_middleware(settings, holder)
    # Innermost: what the proxy did not take and is no gateway route is the web app's.
    app.user_middleware.append(Middleware(WebAppMiddleware, dist=settings.web_dist_dir))
    return app


def _documents(app: FastAPI, upstreams: UpstreamClient) -> Callable[[str], Awaitable[bytes]]:
    """Each service's OpenAPI document; the gateway's own routes (OFREP) are ``gateway``."""

    async def fetch(service: str) -> bytes:
        if service == "gateway":
            return orjson.dumps(app.openapi())
        return await upstreams.fetch(service, "/openapi.json")

    return fetch


def _replica_check(upstreams: UpstreamClient, service: str) -> Any:
    async def check() -> None:
        await upstreams.fetch(service, "/health")

    return check
