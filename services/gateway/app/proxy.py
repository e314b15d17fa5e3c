"""The hot path: a plain ASGI handler that authenticates, limits and forwards a request.

It sits in front of the FastAPI router; paths it does not route (ops, docs, ``/internal``,
anything unknown) fall through to FastAPI, which answers them itself or with a 404.
"""

import asyncio
import logging
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from starlette.types import ASGIApp, Receive, Scope, Send

from services.gateway.app.addresses import Network, client_address
from services.gateway.app.client import Headers, UpstreamClient
from services.gateway.app.errors import (
    PROBLEM_STATUSES,
    BodyTimeout,
    BodyTooLarge,
    MissingScope,
)
from services.gateway.app.pools import PoolRouter
from services.gateway.app.routing import Target, required_scope, resolve
from services.gateway.app.service import Admission, Gatekeeper
from shared.context import current_request_id, current_traceparent
from shared.identity import IDENTITY_HEADER, sign_identity
from shared.problems import PROBLEM_CONTENT_TYPE, DomainError, problem_body, status_for

log = logging.getLogger("taskstream.gateway.proxy")
RawHeaders = list[tuple[bytes, bytes]]
# RFC 9110 section 7.6.1 connection-specific fields; then what the gateway sets itself (or,
# for Expect, has already answered: uvicorn sent the client its 100 Continue).
HOP_BY_HOP = frozenset(
    {
        b"connection", b"keep-alive", b"proxy-connection", b"proxy-authenticate",
        b"proxy-authorization", b"te", b"trailer", b"transfer-encoding", b"upgrade",
    }
)  # fmt: skip
SET_BY_GATEWAY = frozenset(
    {
        b"host", b"forwarded", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host",
        b"x-real-ip", b"x-request-id", b"traceparent", b"expect", b"content-length",
    }
)  # fmt: skip
# Credentials are auth's business alone; tasks and search get the gateway's signed identity.
CREDENTIALS = frozenset({b"authorization", b"x-api-key", b"cookie", b"x-csrf-token"})
CREDENTIAL_SERVICES = frozenset({"auth"})
# Identity is only ever what the gateway signs; anything a client claims is dropped.
IDENTITY_PREFIXES = (b"x-taskstream-", b"x-user-", b"x-auth-", b"x-identity")
# uvicorn and the request-context middleware add their own; the upstream's would be duplicates.
DROPPED_RESPONSE = HOP_BY_HOP | {b"date", b"server", b"x-request-id"}
LOCATION_FIELDS = frozenset({b"location", b"content-location"})
CLIENT_CLOSED = 499  # nginx's status for a client that closed before its request was whole


@dataclass
class Runtime:
    """What the lifespan opens, handed to the proxy once it exists."""

    upstreams: UpstreamClient
    gatekeeper: Gatekeeper
    signing_secret: bytes
    max_body_bytes: int
    body_read_timeout_seconds: float
    trusted_proxies: Sequence[Network]
    pools: PoolRouter  # stable or canary replicas per request (pools.py)


class RuntimeHolder:
    runtime: Runtime | None = None


def connection_listed(headers: list[tuple[bytes, bytes]]) -> frozenset[bytes]:
    """Extra hop-by-hop names a sender lists in its ``Connection`` field."""
    names = (v.lower().split(b",") for k, v in headers if k == b"connection")
    return frozenset(name.strip() for listed in names for name in listed)


def forwarded_request_headers(
    headers: list[tuple[bytes, bytes]], *, client_ip: str, scheme: str, service: str
) -> Headers:
    """The client's end-to-end headers, minus identity claims, plus forwarding fields.

    The body's framing is left out: the upstream client frames the bytes the gateway holds.
    """
    listed = connection_listed(headers)
    dropped = HOP_BY_HOP | SET_BY_GATEWAY | listed
    if service not in CREDENTIAL_SERVICES:
        dropped |= CREDENTIALS
    kept: Headers = []
    host = b""
    for name, value in headers:
        if name == b"host":
            host = value
        if name in dropped:
            continue
        if name.startswith(IDENTITY_PREFIXES):
            continue
        kept.append((name.decode("latin-1"), value.decode("latin-1")))
    kept.append(("x-forwarded-for", client_ip))
    kept.append(("x-forwarded-proto", scheme))
    if host:
        kept.append(("x-forwarded-host", host.decode("latin-1")))
    kept.append(("x-request-id", current_request_id()))
    kept.append(("traceparent", current_traceparent()))
    return kept


def returned_response_headers(
    headers: Iterable[tuple[bytes, bytes]], *, upstream: str
) -> RawHeaders:
    """The upstream's response fields for the client; ``upstream`` is the answering host:port."""
    lowered = [(k.lower(), v) for k, v in headers]
    listed = connection_listed(lowered)
    return [
        (k, public_location(v, upstream=upstream) if k in LOCATION_FIELDS else v)
        for k, v in lowered
        if k not in DROPPED_RESPONSE and k not in listed
    ]


def public_location(value: bytes, *, upstream: str) -> bytes:
    """A URL naming the upstream's internal host and port keeps its path only; a URL of
    another site (social sign-in's redirect to the OpenID provider) is relayed as it is."""
    parts = urlsplit(value.decode("latin-1"))
    if not (parts.scheme or parts.netloc) or parts.netloc.lower() != upstream.lower():
        return value
    path = parts.path if parts.path.startswith("/") else "/" + parts.path
    return (path + (f"?{parts.query}" if parts.query else "")).encode("latin-1")


def request_header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


class ClientGone(Exception):
    """The client disconnected before its request was complete: there is no one to answer."""


async def read_body(receive: Receive, *, limit: int, within_seconds: float) -> bytes:
    """The whole request body, or an error: nothing is forwarded before it is all here."""
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(within_seconds):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientGone
                chunk: bytes = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge("The request body is too large.")
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    except TimeoutError:
        raise BodyTimeout("The request body did not arrive in time.") from None


async def send_problem(
    send: Send, exc: DomainError, extra_headers: RawHeaders | None = None
) -> None:
    status = status_for(exc, PROBLEM_STATUSES)
    body = problem_body(status, exc.detail, title=getattr(exc, "title", None))
    headers: RawHeaders = [
        (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
        *((k.encode(), v.encode()) for k, v in getattr(exc, "headers", {}).items()),
        *(extra_headers or ()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class ProxyMiddleware:
    def __init__(self, app: ASGIApp, *, holder: RuntimeHolder) -> None:
        self.app = app
        self.holder = holder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = resolve(scope["path"]) if scope["type"] == "http" else None
        runtime = self.holder.runtime
        if target is None or runtime is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = target.label
        limit_headers: RawHeaders = []
        try:
            admission = await self._admit(runtime, scope, target)
            limit_headers = admission.decision.headers(admission.policy)
            check_scope(admission, target, scope["method"])
            body = await read_body(
                receive,
                limit=runtime.max_body_bytes,
                within_seconds=runtime.body_read_timeout_seconds,
            )
            upstreams, send = runtime.pools.route(target.service, admission.identity, send)
            await self._forward(
                upstreams, runtime, scope, target, admission, body, send, limit_headers, receive
            )
        except ClientGone:
            log.info("client went away before its request was complete; nothing forwarded")
            # Nobody reads this; it labels the access log and metrics as nginx does, not 500.
            await send({"type": "http.response.start", "status": CLIENT_CLOSED, "headers": []})
            await send({"type": "http.response.body", "body": b""})
        except DomainError as exc:
            await send_problem(send, exc, limit_headers + closing_after(exc))

    async def _admit(self, runtime: Runtime, scope: Scope, target: Target) -> Admission:
        peer = scope["client"][0] if scope.get("client") else "unknown"
        forwarded = (v for k, v in scope["headers"] if k == b"x-forwarded-for")
        client_ip = client_address(peer, forwarded, runtime.trusted_proxies)
        if target.public:
            return await runtime.gatekeeper.admit_public(client_ip=client_ip)
        return await runtime.gatekeeper.admit_user(
            authorization=request_header(scope, b"authorization"),
            api_key=request_header(scope, b"x-api-key"),
            client_ip=client_ip,
        )

    async def _forward(
        self,
        upstreams: UpstreamClient,
        runtime: Runtime,
        scope: Scope,
        target: Target,
        admission: Admission,
        body: bytes,
        send: Send,
        limit_headers: RawHeaders,
        receive: Receive,
    ) -> None:
        method: str = scope["method"]
        query: bytes = scope.get("query_string", b"")
        headers = forwarded_request_headers(
            scope["headers"],
            client_ip=admission.identity.client_ip or "unknown",
            scheme=scope["scheme"],
            service=target.service,
        )
        signed = sign_identity(
            admission.identity,
            secret=runtime.signing_secret,
            method=method,
            path=scope["path"],
            query=query,
            body=body,
        )
        headers.append((IDENTITY_HEADER, signed))
        path = scope.get("raw_path") or scope["path"].encode()
        url = (path + b"?" + query if query else path).decode("latin-1")
        async with upstreams.exchange(
            target.service,
            method=method,
            target=url,
            headers=headers,
            body=body,
            stream=target.stream,
        ) as response:
            relay = self._relay(response, send, limit_headers)
            await (until_client_leaves(relay, receive) if target.stream else relay)

    async def _relay(self, response: aiohttp.ClientResponse, send: Send, extra: RawHeaders) -> None:
        upstream = urlsplit(str(response.url)).netloc
        headers = returned_response_headers(response.raw_headers, upstream=upstream)
        await send(
            {"type": "http.response.start", "status": response.status, "headers": headers + extra}
        )
        try:
            more = True
            async for chunk in response.content.iter_any():
                # Most bodies arrive in one piece: ending with it spares an empty last message.
                more = not response.content.at_eof()
                await send({"type": "http.response.body", "body": chunk, "more_body": more})
            if more:
                await send({"type": "http.response.body", "body": b""})
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Headers are out; all that is left is to cut the response short.
            log.warning("upstream broke off mid-response: %s", type(exc).__name__)


async def until_client_leaves(relay: Coroutine[Any, Any, None], receive: Receive) -> None:
    """Relay a long-lived response until it ends or the client disconnects, whichever is first.

    The request body has been read, so ``receive`` next yields ``http.disconnect``; without
    watching for it, a stream the client abandoned would be relayed (and its upstream
    connection held) until the upstream ends it.
    """
    relaying = asyncio.ensure_future(relay)
    leaving = asyncio.ensure_future(client_disconnect(receive))
    try:
        await asyncio.wait({relaying, leaving}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        leaving.cancel()
        if not relaying.done():
            relaying.cancel()
            log.info("client left a streamed response; its upstream connection is closed")
        await asyncio.gather(relaying, leaving, return_exceptions=True)
    if not relaying.cancelled():
        relaying.result()  # the relay's own error, if it had one


async def client_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def check_scope(admission: Admission, target: Target, method: str) -> None:
    """An API key reaches a route only with the scope the route needs."""
    needed = required_scope(target.service, method)
    if admission.scopes is None or needed is None or needed in admission.scopes:
        return
    raise MissingScope(f"This API key lacks the {needed} scope.")


def closing_after(exc: DomainError) -> RawHeaders:
    """A body the client is still sending (or never finished) is not worth reading on."""
    return [(b"connection", b"close")] if isinstance(exc, BodyTimeout | BodyTooLarge) else []
