"""Serves the built web app (``web/dist``) at every path the gateway does not route itself.

Plain ASGI, innermost of the gateway's middleware: the proxy has already taken ``/api/...``.
The files are read once at start-up (the whole app is a few hundred kB), with their ``.br``
and ``.gz`` twins that the build wrote, so a request costs a dict look-up.

- ``/assets/*``: content-hashed names, cached for a year (``immutable``);
- ``index.html``, ``/sw.js``, the manifest: ``no-cache`` with an ETag (revalidated each time);
- any other path that is not a file: ``index.html`` (the app routes it, or shows its 404);
- a missing ``/assets/`` file or a missing file with an extension falls through to a 404.
"""

import hashlib
import logging
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from services.gateway.app.routing import RouteLabel

log = logging.getLogger("taskstream.gateway.webapp")
# Paths the gateway (or the proxy in front of this) answers; the app never shadows them.
NOT_APP_PREFIXES = ("/api/", "/.well-known/", "/ofrep/", "/docs/")
NOT_APP_PATHS = frozenset({"/api", "/docs", "/health", "/ready", "/metrics"})
INDEX = "/index.html"
IMMUTABLE = b"public, max-age=31536000, immutable"
REVALIDATE = b"no-cache"
# Scripts only from this origin: no inline script, no eval. Styles may be inline (the dialog
# library sets a scroll-lock style element); the API's stricter policy stays on /api.
APP_CSP = (
    b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; connect-src 'self'; font-src 'self'; manifest-src 'self'; "
    b"worker-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    b"frame-ancestors 'none'"
)
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))
WEB_ROUTE = RouteLabel("/web")
EXTRA_TYPES = {".webmanifest": "application/manifest+json", ".js": "text/javascript"}


@dataclass(frozen=True, slots=True)
class WebFile:
    body: bytes
    content_type: bytes
    etag: bytes
    cache_control: bytes
    encoded: dict[str, bytes]  # "br"/"gzip" → the precompressed body


def load_dist(dist: Path) -> dict[str, WebFile]:
    """Every file of the build by URL path; precompressed twins become variants, not files."""
    files: dict[str, WebFile] = {}
    for path in sorted(p for p in dist.rglob("*") if p.is_file()):
        if path.suffix in (".br", ".gz"):
            continue
        url = "/" + path.relative_to(dist).as_posix()
        body = path.read_bytes()
        encoded = {
            name: path.with_name(path.name + suffix).read_bytes()
            for name, suffix in ENCODINGS
            if path.with_name(path.name + suffix).is_file()
        }
        files[url] = WebFile(
            body=body,
            content_type=content_type(path).encode(),
            # Weak: the br, gzip and plain bodies are one representation (RFC 9110 8.8.1).
            etag=b'W/"' + hashlib.sha256(body).hexdigest()[:32].encode() + b'"',
            cache_control=IMMUTABLE if url.startswith("/assets/") else REVALIDATE,
            encoded=encoded,
        )
    return files


def content_type(path: Path) -> str:
    guessed = EXTRA_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0]
    kind = guessed or "application/octet-stream"
    text = kind.startswith("text/") or kind.endswith(("json", "javascript", "xml"))
    return f"{kind}; charset=utf-8" if text else kind


def accepted_encodings(scope: Scope) -> set[str]:
    """Codings the client accepts (``q=0`` means refused)."""
    accepted: set[str] = set()
    for name, value in scope["headers"]:
        if name != b"accept-encoding":
            continue
        for item in value.decode("latin-1").split(","):
            coding, _, params = item.strip().partition(";")
            if params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000"):
                accepted.add(coding.strip().lower())
    return accepted


def if_none_match(scope: Scope) -> bytes | None:
    return next((v for k, v in scope["headers"] if k == b"if-none-match"), None)


def is_app_path(path: str) -> bool:
    return path not in NOT_APP_PATHS and not path.startswith(NOT_APP_PREFIXES)


class WebAppMiddleware:
    """Answers GET/HEAD for app paths from the loaded build; everything else goes on."""

    def __init__(self, app: ASGIApp, *, dist: Path) -> None:
        self.app = app
        self.files = load_dist(dist) if (dist / "index.html").is_file() else {}
        if not self.files:
            log.warning("no web app build in %s: `/` answers 404", dist)

    def pick(self, path: str) -> WebFile | None:
        found = self.files.get(path)
        if found is not None or path.startswith("/assets/"):
            return found
        if "." in path.rsplit("/", 1)[-1]:  # a missing file, not a client route
            return None
        return self.files.get(INDEX)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or not is_app_path(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        found = self.pick(scope["path"])
        if found is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = WEB_ROUTE
        scope.setdefault("state", {})["csp"] = APP_CSP
        await send_file(scope, send, found)


async def send_file(scope: Scope, send: Send, found: WebFile) -> None:
    headers = [
        (b"content-type", found.content_type),
        (b"cache-control", found.cache_control),
        (b"etag", found.etag),
    ]
    if found.encoded:
        headers.append((b"vary", b"Accept-Encoding"))
    if if_none_match(scope) == found.etag:
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    body = found.body
    accepted = accepted_encodings(scope)
    for coding, _ in ENCODINGS:
        if coding in accepted and coding in found.encoded:
            body = found.encoded[coding]
            headers.append((b"content-encoding", coding.encode()))
            break
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
