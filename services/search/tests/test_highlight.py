"""Highlight fragments: same word rules as the query, everything but <mark> escaped."""

import pytest

from services.search.app.highlight import Highlighter, cut
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
    assert Highlighter(build_analyzer(), words).matching([token]) == ({token} if matches else set())


def test_words_too_long_to_be_indexed_never_match() -> None:
    long_word = "a" * 40
    assert Highlighter(build_analyzer(), [long_word[:30]]).matching([long_word]) == set()


@pytest.mark.parametrize(
    "text",
    [
        "Fix the LOGIN page_2, then deploy v1.2 (a1b2)!",
        "  leading and trailing separators...  ",
        "x_y" + " word" * 3 + " " + "z" * 39 + " " + "z" * 40 + " end",
        "Café élan naïve straße",  # not ASCII: the analyzer's own tokens
        "",
    ],
)
def test_cut_gives_the_analyzers_words_and_spans(text: str) -> None:
    analyzer = build_analyzer()
    words = cut(analyzer, text)
    found = [
        (word, text[words.bounds[2 * k] : words.bounds[2 * k + 1]].lower())
        for k, word in enumerate(words.words)
        if word
    ]
    tokens = analyzer.pre_tokenize(text).tokens
    expected = [
        (token.text, text[token.char_offset_from : token.char_offset_to].lower())
        for token in tokens
    ]
    # The regex keeps words too long to be indexed (the analyzer drops them); they never match.
    assert [pair for pair in found if len(pair[0]) < 40] == expected


def highlight(words: list[str], text: str, *, whole: bool) -> str | None:
    return Highlighter(build_analyzer(), words).highlight([(text, whole)])[0]


def test_marks_typos_and_prefixes_and_escapes_the_rest() -> None:
    text = "<script>alert(1)</script> Café reports"
    marked = highlight(["cafe", "repo"], text, whole=True)
    assert marked == "&lt;script&gt;alert(1)&lt;/script&gt; <mark>Café</mark> <mark>reports</mark>"


def test_long_text_is_cut_around_the_first_match() -> None:
    text = "x " * 200 + "needle " + "y " * 200
    marked = highlight(["needle"], text, whole=False)
    assert marked is not None
    assert marked.startswith("…")
    assert marked.endswith("…")
    assert "<mark>needle</mark>" in marked
    assert len(marked) < 200


def test_one_call_marks_every_text_of_a_page() -> None:
    texts = [("Buy milk", True), ("nothing here", False), ("more MILK please", False)]
    marked = Highlighter(build_analyzer(), ["milk"]).highlight(texts)
    assert marked == ["Buy <mark>milk</mark>", None, "more <mark>MILK</mark> please"]


def test_no_match_gives_no_highlight() -> None:
    assert highlight(["groceries"], "nothing here", whole=False) is None
