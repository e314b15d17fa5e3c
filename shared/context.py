"""Per-request context that logs and outgoing calls pick up without being handed it."""

from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
trace_id_var: ContextVar[str] = ContextVar("trace_id", default="-")
traceparent_var: ContextVar[str] = ContextVar("traceparent", default="")


def current_request_id() -> str:
    return request_id_var.get()


def current_traceparent() -> str:
    return traceparent_var.get()
