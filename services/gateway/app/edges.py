"""Plain-ASGI edge middleware: security headers, CORS, request size limits.

CORS and gzip use Starlette's middleware, which is plain ASGI too (see ``main.py``).
"""

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway.app.errors import BodyTooLarge, HeadersTooLarge, UriTooLong
from services.gateway.app.proxy import send_problem
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


class SecurityHeadersMiddleware:
    """Sets the security headers, replacing any an upstream sent.

    A route may ask for a wider Content-Security-Policy (Swagger UI runs scripts) by putting
    ``csp`` into the scope's ``state``; everything else gets the strict API policy.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                csp = scope.get("state", {}).get("csp", API_CSP)
                kept = [
                    (k, v) for k, v in message.get("headers", ()) if k.lower() not in SECURITY_NAMES
                ]
                message["headers"] = [*kept, *SECURITY_HEADERS, (b"content-security-policy", csp)]
            await send(message)

        await self.app(scope, receive, send_secured)


class RequestLimitsMiddleware:
    """414 for long URLs, 431 for oversized headers, 413 when Content-Length is too big.

    A body without (or lying about) Content-Length is counted while it streams, in the proxy.
    """

    def __init__(
        self, app: ASGIApp, *, max_url_bytes: int, max_header_bytes: int, max_body_bytes: int
    ) -> None:
        self.app = app
        self.max_url_bytes = max_url_bytes
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            error = self._violation(scope)
            if error is not None:
                await send_problem(send, error)
                return
        await self.app(scope, receive, send)

    def _violation(self, scope: Scope) -> DomainError | None:
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


def _too_big(content_length: bytes, limit: int) -> bool:
    return content_length.isdigit() and int(content_length) > limit


class ProblemCorsMiddleware(CORSMiddleware):
    """Starlette's CORS handling, with a refused preflight as problem+json like every error."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        return problem_response(response.status_code, bytes(response.body).decode())
