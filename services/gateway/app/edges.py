"""The plain-ASGI edge: request size limits, security headers, CORS and gzip.

CORS and gzip use Starlette's middleware (plain ASGI too), only for requests that need them.
"""

from collections.abc import Iterable
from typing import Any

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway.app.errors import BodyTooLarge, HeadersTooLarge, UriTooLong
from services.gateway.app.proxy import RawHeaders, send_problem
from shared.problems import DomainError, problem_response

# An API answers JSON; nothing it returns should load, run or be framed.
API_CSP = b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
SECURITY_HEADERS = [
    (b"strict-transport-security", b"max-age=63072000; includeSubDomains"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
SECURITY_NAMES = frozenset(name for name, _ in SECURITY_HEADERS) | {b"content-security-policy"}


class RequestLimits:
    """414 for long URLs, 431 for oversized headers, 413 when Content-Length is too big.

    A body without (or lying about) Content-Length is counted while it streams, in the proxy.
    """

    def __init__(self, *, max_url_bytes: int, max_header_bytes: int, max_body_bytes: int) -> None:
        self.max_url_bytes = max_url_bytes
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes

    def violation(self, scope: Scope) -> DomainError | None:
        raw_path = scope.get("raw_path") or scope["path"].encode()
        if len(raw_path) + len(scope.get("query_string", b"")) > self.max_url_bytes:
            return UriTooLong("The URL is too long.")
        size = 0
        for name, value in scope["headers"]:
            size += len(name) + len(value) + 4
            if name == b"content-length" and _too_big(value, self.max_body_bytes):
                return BodyTooLarge("The request body is too large.")
        if size > self.max_header_bytes:
            return HeadersTooLarge("The request headers are too large.")
        return None


class EdgeMiddleware:
    """Every edge concern of a request in one wrapper: size limits, security headers, and
    CORS and gzip when the request asks for them.

    Security headers replace any an upstream sent. A route may ask for a wider
    Content-Security-Policy (Swagger UI runs scripts) by putting ``csp`` into the scope's
    ``state``; everything else gets the strict API policy.

    A request with no ``Origin`` that does not accept gzip (API clients, the benchmark) skips
    Starlette's CORS and gzip middleware, each of which would wrap ``send`` once more: one
    wrapper instead of three stacked ones (docs/decisions/0910-gateway-edge-speed.md).
    Such a response still carries ``Vary: Accept-Encoding`` where gzip would have applied.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limits: RequestLimits,
        cors: dict[str, Any],
        gzip_minimum_size: int,
    ) -> None:
        self.app = app
        self.limits = limits
        self.gzip_minimum_size = gzip_minimum_size
        limited = self._limited
        self.negotiated: ASGIApp = ProblemCorsMiddleware(
            GZipMiddleware(limited, minimum_size=gzip_minimum_size), **cors
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if negotiates(scope["headers"]):
            await self.negotiated(scope, receive, self._secured(scope, send, vary=False))
        else:
            await self._limited(scope, receive, self._secured(scope, send, vary=True))

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = self.limits.violation(scope)
        if error is not None:
            await send_problem(send, error)
            return
        await self.app(scope, receive, send)

    def _secured(self, scope: Scope, send: Send, *, vary: bool) -> Send:
        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                csp = scope.get("state", {}).get("csp", API_CSP)
                headers = secured_headers(message.get("headers", ()), csp)
                if vary and gzip_would_apply(headers, self.gzip_minimum_size):
                    headers.append((b"vary", b"Accept-Encoding"))
                message["headers"] = headers
            await send(message)

        return send_secured


def negotiates(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether the request is cross-origin (``Origin``) or accepts gzip."""
    for name, value in headers:
        if name == b"origin" or (name == b"accept-encoding" and b"gzip" in value):
            return True
    return False


def secured_headers(headers: Iterable[tuple[bytes, bytes]], csp: bytes) -> RawHeaders:
    kept = [(k, v) for k, v in headers if k.lower() not in SECURITY_NAMES]
    return [*kept, *SECURITY_HEADERS, (b"content-security-policy", csp)]


def gzip_would_apply(headers: RawHeaders, minimum_size: int) -> bool:
    """What Starlette's gzip middleware marks with ``Vary``: a body it would compress for a
    client that accepted gzip (declared at least ``minimum_size`` long, or streamed), not
    already encoded, with no ``Vary`` of its own that names the encoding."""
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"content-length" and value.isdigit() and int(value) < minimum_size:
            return False
        if lowered == b"content-encoding":
            return False
        if lowered == b"vary" and b"accept-encoding" in value.lower():
            return False
        if lowered == b"content-type" and value.startswith(b"text/event-stream"):
            return False
    return True


def _too_big(content_length: bytes, limit: int) -> bool:
    return content_length.isdigit() and int(content_length) > limit


class ProblemCorsMiddleware(CORSMiddleware):
    """Starlette's CORS handling, with a refused preflight as problem+json like every error."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        return problem_response(response.status_code, bytes(response.body).decode())
