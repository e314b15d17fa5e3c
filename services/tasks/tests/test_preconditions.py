"""Conditional headers: parsing ``If-Match`` / ``If-None-Match`` and checking them."""

import pytest

from services.tasks.app.errors import VersionMismatch
from services.tasks.app.routes.preconditions import none_match, parse_etags
from services.tasks.app.service import check_precondition


def test_parse_etags() -> None:
    assert parse_etags(None) is None
    assert parse_etags('"a-v1", "a-v2" ,') == frozenset({'"a-v1"', '"a-v2"'})


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, True), ('"a-v1"', False), ('W/"a-v1"', False), ("*", False), ('"a-v0"', True)],
)
def test_if_none_match_uses_weak_comparison(header: str | None, expected: bool) -> None:
    assert none_match(header, '"a-v1"') is expected


def test_if_match_needs_the_current_etag() -> None:
    doc = {"_id": "a", "version": 2}
    check_precondition(doc, None)
    check_precondition(doc, frozenset({"*"}))
    check_precondition(doc, frozenset({'"a-v1"', '"a-v2"'}))
    with pytest.raises(VersionMismatch):
        check_precondition(doc, frozenset({'"a-v1"'}))
