"""Highlight fragments: same word rules as the query, everything but <mark> escaped."""

import pytest

from services.search.app.highlight import Highlighter
from services.search.app.index import build_analyzer


@pytest.mark.parametrize(
    ("token", "word", "as_prefix", "matches"),
    [
        ("groceries", "grocreies", False, True),  # a swap is one edit, 8+ letters allow two
        ("report", "reprt", False, True),
        ("report", "rport", False, True),
        ("car", "cat", False, False),  # under 4 letters: exact only
        ("reporting", "repo", True, True),
        ("reporting", "rpeo", True, True),
        ("reporting", "repo", False, False),
        ("re", "repo", True, False),
    ],
)
def test_words_match_by_the_query_rules(
    token: str, word: str, as_prefix: bool, matches: bool
) -> None:
    words = [word] if as_prefix else [word, "zzzzzz"]  # only the last word is a prefix
    assert Highlighter(build_analyzer(), words).matched([token]) == ({0} if matches else set())


def test_marks_typos_and_prefixes_and_escapes_the_rest() -> None:
    text = "<script>alert(1)</script> Café reports"
    marked = Highlighter(build_analyzer(), ["cafe", "repo"]).highlight(text, whole=True)
    assert marked == "&lt;script&gt;alert(1)&lt;/script&gt; <mark>Café</mark> <mark>reports</mark>"


def test_long_text_is_cut_around_the_first_match() -> None:
    text = "x " * 200 + "needle " + "y " * 200
    marked = Highlighter(build_analyzer(), ["needle"]).highlight(text)
    assert marked is not None
    assert marked.startswith("…")
    assert marked.endswith("…")
    assert "<mark>needle</mark>" in marked
    assert len(marked) < 200


def test_no_match_gives_no_highlight() -> None:
    assert Highlighter(build_analyzer(), ["groceries"]).highlight("nothing here") is None
