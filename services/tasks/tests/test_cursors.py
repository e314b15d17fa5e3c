"""Keyset cursors round-trip, and any edit or reuse on another query is refused."""

from datetime import UTC, datetime

import pytest

from services.tasks.app.cursors import CursorPosition, decode_cursor, encode_cursor, query_digest
from services.tasks.app.errors import InvalidCursor

KEY = b"k" * 32
DIGEST = query_digest("owner", {"sort": "-created_at"})


@pytest.mark.parametrize("value", [datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC), 2, 0])
def test_round_trip(value: int | datetime) -> None:
    position = CursorPosition(value=value, task_id="abc")
    cursor = encode_cursor(position, key=KEY, query_digest=DIGEST)
    assert decode_cursor(cursor, key=KEY, query_digest=DIGEST) == position


def test_cursor_is_bound_to_its_query_and_key() -> None:
    cursor = encode_cursor(CursorPosition(value=1, task_id="a"), key=KEY, query_digest=DIGEST)
    other_query = query_digest("owner", {"sort": "priority"})
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, key=KEY, query_digest=other_query)
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, key=b"x" * 32, query_digest=DIGEST)


@pytest.mark.parametrize("mangle", [lambda c: c[:-1], lambda c: "A" + c, lambda c: c + ".x"])
def test_edited_cursors_are_refused(mangle: object) -> None:
    cursor = encode_cursor(CursorPosition(value=1, task_id="a"), key=KEY, query_digest=DIGEST)
    assert callable(mangle)
    with pytest.raises(InvalidCursor):
        decode_cursor(mangle(cursor), key=KEY, query_digest=DIGEST)


@pytest.mark.parametrize("garbage", ["", ".", "no-dot", "a.b.c", "\u00e9.\u00e9", "%%%.%%%"])
def test_garbage_is_refused(garbage: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(garbage, key=KEY, query_digest=DIGEST)
