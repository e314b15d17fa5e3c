"""Opaque, tamper-evident keyset cursors.

A cursor names the last item of a page by its sort value and id, and is bound to the query it
came from (owner, filters, sort), so it cannot be edited or replayed against another query.
"""

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

import orjson

from services.tasks.app.errors import InvalidCursor

SortValue = int | datetime
MAC_BYTES = 16


@dataclass(frozen=True)
class CursorPosition:
    """Where the previous page ended: its last item's sort value and id."""

    value: SortValue
    task_id: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: str, query_digest: str) -> str:
    message = f"{query_digest}\n{payload}".encode()
    return _b64(hmac.new(key, message, hashlib.sha256).digest()[:MAC_BYTES])


def encode_cursor(position: CursorPosition, *, key: bytes, query_digest: str) -> str:
    value = position.value
    packed = ["d", value.isoformat()] if isinstance(value, datetime) else ["i", value]
    payload = _b64(orjson.dumps([*packed, position.task_id]))
    return f"{payload}.{_mac(key, payload, query_digest)}"


def decode_cursor(cursor: str, *, key: bytes, query_digest: str) -> CursorPosition:
    payload, _, mac = cursor.partition(".")
    if not hmac.compare_digest(mac.encode(), _mac(key, payload, query_digest).encode()):
        raise InvalidCursor("The cursor is not valid for this query.")
    try:
        kind, raw, task_id = orjson.loads(_unb64(payload))
        value: SortValue = datetime.fromisoformat(raw) if kind == "d" else int(raw)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidCursor("The cursor is not valid for this query.") from exc
    return CursorPosition(value=value, task_id=str(task_id))


def query_digest(*parts: object) -> str:
    """A short fingerprint of the query a cursor belongs to."""
    return hashlib.sha256(orjson.dumps(parts, default=str)).hexdigest()[:32]
