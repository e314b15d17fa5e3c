"""Highlight fragments: same word rules as the query, everything but <mark> escaped."""

import pytest

from services.search.app.highlight import edit_distance, highlight
from services.search.app.index import build_analyzer


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [("abc", "abc", 0), ("abc", "acb", 1), ("kitten", "sitting", 3), ("", "ab", 2)],
)
def test_edit_distance_counts_a_swap_as_one(a: str, b: str, distance: int) -> None:
    assert edit_distance(a, b) == distance


def test_marks_typos_and_prefixes_and_escapes_the_rest() -> None:
    text = "<script>alert(1)</script> Café reports"
    marked = highlight(build_analyzer(), text, ["cafe", "repo"], whole=True)
    assert marked == "&lt;script&gt;alert(1)&lt;/script&gt; <mark>Café</mark> <mark>reports</mark>"


def test_long_text_is_cut_around_the_first_match() -> None:
    text = "x " * 200 + "needle " + "y " * 200
    marked = highlight(build_analyzer(), text, ["needle"])
    assert marked is not None
    assert marked.startswith("…")
    assert marked.endswith("…")
    assert "<mark>needle</mark>" in marked
    assert len(marked) < 200


def test_no_match_gives_no_highlight() -> None:
    assert highlight(build_analyzer(), "nothing here", ["groceries"]) is None
