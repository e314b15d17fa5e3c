"""The hot path: a plain ASGI handler that authenticates, limits and forwards a request.

It sits in front of the FastAPI router; paths it does not route (ops, docs, ``/internal``,
anything unknown) fall through to FastAPI, which answers them itself or with a 404.
"""

import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

import aiohttp
from starlette.types import ASGIApp, Receive, Scope, Send

from services.gateway.app.client import Headers, UpstreamClient
from services.gateway.app.errors import PROBLEM_STATUSES, BadUpstream, BodyTooLarge
from services.gateway.app.pools import PoolRouter
from services.gateway.app.routing import Target, resolve
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
        b"x-real-ip", b"x-request-id", b"traceparent", b"expect",
    }
)  # fmt: skip
# Identity is only ever what the gateway signs; anything a client claims is dropped.
IDENTITY_PREFIXES = (b"x-taskstream-", b"x-user-", b"x-auth-", b"x-identity")
# uvicorn and the request-context middleware add their own; the upstream's would be duplicates.
DROPPED_RESPONSE = HOP_BY_HOP | {b"date", b"server", b"x-request-id"}


@dataclass
class Runtime:
    """What the lifespan opens, handed to the proxy once it exists."""

    upstreams: UpstreamClient
    gatekeeper: Gatekeeper
    signing_secret: bytes
    max_body_bytes: int
    pools: PoolRouter  # stable or canary replicas per request (pools.py)


class RuntimeHolder:
    runtime: Runtime | None = None


def connection_listed(headers: list[tuple[bytes, bytes]]) -> frozenset[bytes]:
    """Extra hop-by-hop names a sender lists in its ``Connection`` field."""
    names = (v.lower().split(b",") for k, v in headers if k == b"connection")
    return frozenset(name.strip() for listed in names for name in listed)


def forwarded_request_headers(
    headers: list[tuple[bytes, bytes]], *, client_ip: str, scheme: str
) -> Headers:
    """The client's end-to-end headers, minus identity claims, plus forwarding fields."""
    listed = connection_listed(headers)
    kept: Headers = []
    host = b""
    for name, value in headers:
        if name == b"host":
            host = value
        if name in HOP_BY_HOP or name in SET_BY_GATEWAY or name in listed:
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


def returned_response_headers(headers: Iterable[tuple[bytes, bytes]]) -> RawHeaders:
    lowered = [(k.lower(), v) for k, v in headers]
    listed = connection_listed(lowered)
    return [(k, v) for k, v in lowered if k not in DROPPED_RESPONSE and k not in listed]


def request_header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


class BodyStream:
    """A request body read from ASGI while it is sent upstream, its bytes counted.

    The upstream client wraps errors raised inside a body iterator, so ``exceeded`` records
    why the upload stopped.
    """

    def __init__(self, receive: Receive, first: bytes, limit: int) -> None:
        self._receive = receive
        self._first = first
        self._limit = limit
        self.exceeded = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        seen = len(self._first)
        yield self._first
        more = True
        while more:
            message = await self._receive()
            chunk: bytes = message.get("body", b"")
            seen += len(chunk)
            if seen > self._limit:
                self.exceeded = True
                raise BodyTooLarge("The request body is too large.")
            more = message.get("more_body", False)
            yield chunk


async def read_body(receive: Receive, limit: int) -> bytes | BodyStream:
    """The whole body if it came in one piece (replayable), else a byte-counting stream."""
    message = await receive()
    first: bytes = message.get("body", b"")
    if len(first) > limit:
        raise BodyTooLarge("The request body is too large.")
    if not message.get("more_body", False):
        return first
    return BodyStream(receive, first, limit)


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
        try:
            admission = await self._admit(runtime, scope, target)
        except DomainError as exc:
            await send_problem(send, exc)
            return
        limit_headers = admission.decision.headers(admission.policy)
        upstreams, send = runtime.pools.route(target.service, admission.identity, send)
        try:
            response = await self._forward(runtime, upstreams, scope, receive, target, admission)
        except DomainError as exc:
            await send_problem(send, exc, limit_headers)
            return
        await self._relay(response, send, limit_headers)

    async def _admit(self, runtime: Runtime, scope: Scope, target: Target) -> Admission:
        client_ip = scope["client"][0] if scope.get("client") else "unknown"
        if target.public:
            return await runtime.gatekeeper.admit_public(client_ip=client_ip)
        return await runtime.gatekeeper.admit_user(
            authorization=request_header(scope, b"authorization"),
            api_key=request_header(scope, b"x-api-key"),
            client_ip=client_ip,
        )

    async def _forward(
        self,
        runtime: Runtime,
        upstreams: UpstreamClient,
        scope: Scope,
        receive: Receive,
        target: Target,
        admission: Admission,
    ) -> aiohttp.ClientResponse:
        method: str = scope["method"]
        client_ip = admission.identity.client_ip or "unknown"
        headers = forwarded_request_headers(
            scope["headers"], client_ip=client_ip, scheme=scope["scheme"]
        )
        signed = sign_identity(
            admission.identity, secret=runtime.signing_secret, method=method, path=scope["path"]
        )
        headers.append((IDENTITY_HEADER, signed))
        path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string", b"")
        url = (path + b"?" + query if query else path).decode("latin-1")
        body = await read_body(receive, runtime.max_body_bytes)
        try:
            return await upstreams.send(
                target.service, method=method, target=url, headers=headers, body=body
            )
        except BadUpstream:
            if isinstance(body, BodyStream) and body.exceeded:
                raise BodyTooLarge("The request body is too large.") from None
            raise

    async def _relay(self, response: aiohttp.ClientResponse, send: Send, extra: RawHeaders) -> None:
        headers = returned_response_headers(response.raw_headers)
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
        finally:
            response.release()
