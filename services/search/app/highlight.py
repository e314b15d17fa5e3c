"""Highlights: fragments of the matched text, HTML-escaped, with only ``<mark>`` added.

tantivy's snippet generator only knows exact query terms, so fuzzy and prefix matches would
go unmarked; the fragments are cut here with the same word rules the query uses.
"""

import html
from collections.abc import Sequence
from functools import lru_cache

import tantivy

from services.search.app.query import typo_budget

FRAGMENT_CHARS = 160
LEAD_CHARS = 40


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: a swap of two neighbours counts as one edit."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        row = [i]
        for j, char_b in enumerate(b, 1):
            cost = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                cost = min(cost, previous2[j - 2] + 1)
            row.append(cost)
        previous2, previous = previous, row
    return previous[-1]


# Long descriptions repeat their words; the cache keeps highlighting one well under a millisecond.
@lru_cache(maxsize=65_536)
def word_matches(token: str, word: str, *, as_prefix: bool) -> bool:
    budget = typo_budget(word)
    if token == word or (as_prefix and token.startswith(word)):
        return True
    if len(token) < len(word) - budget:
        return False
    if abs(len(token) - len(word)) <= budget and edit_distance(token, word) <= budget:
        return True
    if not as_prefix:
        return False
    lengths = range(max(1, len(word) - budget), len(word) + budget + 1)
    return any(edit_distance(token[:n], word) <= budget for n in lengths if n <= len(token))


def matched_spans(
    analyzer: tantivy.TextAnalyzer, text: str, words: Sequence[str]
) -> list[tuple[int, int]]:
    last = len(words) - 1
    return [
        (token.char_offset_from, token.char_offset_to)
        for token in analyzer.pre_tokenize(text).tokens
        if any(word_matches(token.text, w, as_prefix=i == last) for i, w in enumerate(words))
    ]


def highlight(
    analyzer: tantivy.TextAnalyzer, text: str, words: Sequence[str], *, whole: bool = False
) -> str | None:
    """The marked-up text (or a fragment around the first match), None when nothing matched."""
    spans = matched_spans(analyzer, text, words)
    if not spans:
        return None
    start = 0 if whole else max(0, spans[0][0] - LEAD_CHARS)
    end = len(text) if whole else min(len(text), start + FRAGMENT_CHARS)
    parts, cursor = [], start
    for span_start, span_end in spans:
        if span_start < cursor or span_end > end:
            continue
        parts += [html.escape(text[cursor:span_start]), "<mark>"]
        parts += [html.escape(text[span_start:span_end]), "</mark>"]
        cursor = span_end
    parts.append(html.escape(text[cursor:end]))
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    return prefix + "".join(parts).strip() + suffix
