"""Request ids and W3C trace context: accepted when sane, created when missing."""

import re
import secrets

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def sane_request_id(candidate: str | None) -> str:
    if candidate and _REQUEST_ID.match(candidate):
        return candidate
    return secrets.token_hex(16)  # 32 hex digits, as uuid4().hex, at a fraction of its cost


def child_traceparent(incoming: str | None) -> tuple[str, str]:
    """Return (trace_id, traceparent for our span), continuing the caller's trace if valid."""
    match = _TRACEPARENT.match(incoming or "")
    trace_id = match.group(1) if match and match.group(1) != "0" * 32 else secrets.token_hex(16)
    flags = match.group(3) if match else "01"
    return trace_id, f"00-{trace_id}-{secrets.token_hex(8)}-{flags}"


def trace_id_of(traceparent: str | None) -> str | None:
    match = _TRACEPARENT.match(traceparent or "")
    return match.group(1) if match else None
