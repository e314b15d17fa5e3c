"""Plain-ASGI request context: request id, trace context, one access-log line, metrics.

It is plain ASGI (not ``BaseHTTPMiddleware``) because it sits on every request's hot path.
"""

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.context import request_id_var, trace_id_var, traceparent_var
from shared.metrics import HttpMetrics
from shared.problems import problem_body
from shared.tracing import child_traceparent, sane_request_id

access_log = logging.getLogger("taskstream.access")
error_log = logging.getLogger("taskstream.errors")
QUIET_ROUTES = frozenset({"/health", "/ready", "/metrics"})


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = sane_request_id(header(scope, b"x-request-id"))
        trace_id, traceparent = child_traceparent(header(scope, b"traceparent"))
        tokens = (
            request_id_var.set(request_id),
            trace_id_var.set(trace_id),
            traceparent_var.set(traceparent),
        )
        state: dict[str, Any] = {"status": 500, "started": False}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                state["started"] = True
                message["headers"] = [
                    *message.get("headers", ()),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            error_log.exception("unhandled error")
            if not state["started"]:
                await send_unexpected_error(send_with_id)
        finally:
            self._record(scope, state["status"], time.perf_counter() - started)
            request_id_var.reset(tokens[0])
            trace_id_var.reset(tokens[1])
            traceparent_var.reset(tokens[2])

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = route_template(scope)
        method = scope["method"]
        self.metrics.observe(method=method, route=route, status=status, seconds=seconds)
        level = logging.DEBUG if route in QUIET_ROUTES else logging.INFO
        access_log.log(
            level,
            "request",
            extra={
                "method": method,
                "route": route,
                "path": scope["path"],
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
            },
        )


async def send_unexpected_error(send: Send) -> None:
    body = problem_body(500, "An unexpected error occurred.")
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
