"""Highlights: fragments of the matched text, HTML-escaped, with only ``<mark>`` added.

tantivy's snippet generator only knows exact query terms, so fuzzy and prefix matches would
go unmarked; the fragments are cut here with the same word rules the query uses.
"""

import html
from collections.abc import Sequence

import tantivy
from rapidfuzz import process
from rapidfuzz.distance import OSA

from services.search.app.query import typo_budget

FRAGMENT_CHARS = 160
LEAD_CHARS = 40


class Highlighter:
    """Marks one query's words in the hits of one page, by the query's rule: within the word's
    typo budget (a swap of neighbours is one edit), or for the last word, starting with
    something within that budget. rapidfuzz compares a whole text's words in one call."""

    def __init__(self, analyzer: tantivy.TextAnalyzer, words: Sequence[str]) -> None:
        self._analyzer = analyzer
        self._words = list(words)

    def matched(self, tokens: Sequence[str]) -> set[int]:
        """Positions of the tokens any query word matches."""
        found: set[int] = set()
        for i, word in enumerate(self._words):
            budget = typo_budget(word)
            candidates = [tokens]
            if i == len(self._words) - 1:
                lengths = range(max(1, len(word) - budget), len(word) + budget + 1)
                candidates += [[token[:n] for token in tokens] for n in lengths]
            for texts in candidates:
                hits = process.extract(
                    word, texts, scorer=OSA.distance, score_cutoff=budget, limit=None
                )
                found.update(position for _, _, position in hits)
        return found

    def spans(self, text: str, *, whole: bool) -> tuple[int, int, list[tuple[int, int]]]:
        """The window to show and the matched words in it; an empty list when none matched."""
        tokens = self._analyzer.pre_tokenize(text).tokens
        matched = self.matched([token.text for token in tokens])
        if not matched:
            return 0, 0, []
        first = tokens[min(matched)].char_offset_from
        start = 0 if whole else max(0, first - LEAD_CHARS)
        end = len(text) if whole else min(len(text), start + FRAGMENT_CHARS)
        spans = [
            (token.char_offset_from, token.char_offset_to)
            for position, token in enumerate(tokens)
            if position in matched and token.char_offset_to <= end
        ]
        return start, end, spans

    def highlight(self, text: str, *, whole: bool = False) -> str | None:
        """The marked-up text (or a fragment around the first match), None without a match."""
        start, end, spans = self.spans(text, whole=whole)
        if not spans:
            return None
        parts, cursor = [], start
        for span_start, span_end in spans:
            parts += [html.escape(text[cursor:span_start]), "<mark>"]
            parts += [html.escape(text[span_start:span_end]), "</mark>"]
            cursor = span_end
        parts.append(html.escape(text[cursor:end]))
        prefix = "…" if start > 0 else ""
        suffix = "…" if end < len(text) else ""
        return prefix + "".join(parts).strip() + suffix
