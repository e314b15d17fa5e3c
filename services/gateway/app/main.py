"""The gateway app: ``create_app(settings)``; clients open in the lifespan.

Request path, outermost first: request context (id, trace, access log, metrics) → security
headers → CORS → gzip → size limits → the proxy, which forwards routed paths and lets the
rest fall through to FastAPI (ops endpoints, OpenAPI, Swagger UI, 404s).
"""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from services.gateway.app.client import UpstreamClient, build_pools, open_http_client
from services.gateway.app.config import Settings
from services.gateway.app.edges import (
    ProblemCorsMiddleware,
    RequestLimitsMiddleware,
    SecurityHeadersMiddleware,
)
from services.gateway.app.errors import PROBLEM_STATUSES
from services.gateway.app.fallback import FallbackRevocation
from services.gateway.app.guard import AccessGuard
from services.gateway.app.metrics import GatewayMetrics
from services.gateway.app.openapi import OpenApiCache
from services.gateway.app.proxy import ProxyMiddleware, Runtime, RuntimeHolder
from services.gateway.app.ratelimit import Policy
from services.gateway.app.routes import ROUTERS
from services.gateway.app.routes.docs import ASSETS
from services.gateway.app.service import ApiKeyCache, Gatekeeper
from services.gateway.app.tokens import JwksCache, TokenVerifier
from services.gateway.app.webapp import WebAppMiddleware
from shared.app import build_service_app
from shared.clients import open_redis, redis_ping

UPSTREAMS = ["auth", "tasks", "search"]
CORS_HEADERS = [
    "Authorization", "Content-Type", "X-API-Key", "X-CSRF-Token", "X-Request-ID",
    "If-Match", "If-None-Match", "traceparent",
]  # fmt: skip
EXPOSED_HEADERS = [
    "ETag",
    "Location",
    "X-Request-ID",
    "RateLimit",
    "RateLimit-Policy",
    "Retry-After",
]


def build_gatekeeper(
    settings: Settings, upstreams: UpstreamClient, guard: AccessGuard, metrics: GatewayMetrics
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
        user_policy=Policy("user", settings.user_rate_per_second, settings.user_burst),
        public_policy=Policy("public", settings.public_rate_per_second, settings.public_burst),
        metrics=metrics,
    )


def edge_middleware(settings: Settings, holder: RuntimeHolder) -> list[Middleware]:
    limits: dict[str, Any] = {
        "max_url_bytes": settings.max_url_bytes,
        "max_header_bytes": settings.max_header_bytes,
        "max_body_bytes": settings.max_body_bytes,
    }
    return [
        Middleware(SecurityHeadersMiddleware),
        Middleware(
            ProblemCorsMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
            allow_headers=CORS_HEADERS,
            expose_headers=EXPOSED_HEADERS,
            max_age=600,
        ),
        Middleware(GZipMiddleware, minimum_size=1024),
        Middleware(RequestLimitsMiddleware, **limits),
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
                http, build_pools(settings, metrics), metrics, signing_secret=secret
            )
            guard = AccessGuard(redis, metrics, retry_seconds=settings.redis_retry_seconds)
            holder.runtime = Runtime(
                upstreams=upstreams,
                gatekeeper=build_gatekeeper(settings, upstreams, guard, metrics),
                signing_secret=secret,
                max_body_bytes=settings.max_body_bytes,
            )
            app.state.openapi = OpenApiCache(
                lambda service: upstreams.fetch(service, "/openapi.json"), UPSTREAMS
            )
            app.state.readiness_checks = {
                "redis": lambda: redis_ping(redis),
                **{name: _replica_check(upstreams, name) for name in UPSTREAMS},
            }
            yield
            holder.runtime = None

    app = build_service_app(
        settings=settings,
        title="Taskstream gateway",
        lifespan=lifespan,
        routers=ROUTERS,
        domain_errors=PROBLEM_STATUSES,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")
    # Right inside the request-context middleware, so proxied requests get ids and metrics too.
    app.user_middleware[1:1] = edge_middleware(settings, holder)
    # Innermost: what the proxy did not take and is no gateway route is the web app's.
    app.user_middleware.append(Middleware(WebAppMiddleware, dist=settings.web_dist_dir))
    return app


def _replica_check(upstreams: UpstreamClient, service: str) -> Any:
    async def check() -> None:
        await upstreams.fetch(service, "/health")

    return check
