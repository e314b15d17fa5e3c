"""Highlights: fragments of the matched text, HTML-escaped, with only ``<mark>`` added.

tantivy's snippet generator only knows exact query terms, so fuzzy and prefix matches would
go unmarked; the fragments are cut here with the same word rules the query uses.
"""

import html
import re
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate

import tantivy
from rapidfuzz import process
from rapidfuzz.distance import OSA

from services.search.app.index import MAX_TOKEN_CHARS
from services.search.app.query import typo_budget

FRAGMENT_CHARS = 160
LEAD_CHARS = 40
# What the analyzer makes of ASCII text: the lowercased runs of letters and digits between
# these (tantivy's simple tokenizer splits at every other character, ``_`` too).
ASCII_SEPARATORS = re.compile(r"([^a-z0-9]+)")
# A text, and whether it is shown whole (else a fragment around its first match).
Text = tuple[str, bool]


@dataclass(frozen=True)
class Cut:
    """A text cut into the analyser's words; word ``k`` spans ``bounds[2k]:bounds[2k + 1]``."""

    words: list[str]
    bounds: list[int]

    def spans(self, matched: Container[str]) -> list[tuple[int, int]]:
        bounds = self.bounds
        return [
            (bounds[2 * k], bounds[2 * k + 1])
            for k, word in enumerate(self.words)
            if word in matched
        ]


def cut(analyzer: tantivy.TextAnalyzer, text: str) -> Cut:
    """ASCII text (nearly all of it) is split by a regex into the very same words, in C: far
    cheaper than the Python object ``pre_tokenize`` builds per token (decision 0832). Its
    words too long to be indexed stay in, but never match (see ``Highlighter.matching``)."""
    if text.isascii():
        parts = ASCII_SEPARATORS.split(text.lower())
        return Cut(parts[::2], [0, *accumulate(map(len, parts))])
    tokens = analyzer.pre_tokenize(text).tokens
    bounds = [bound for t in tokens for bound in (t.char_offset_from, t.char_offset_to)]
    return Cut([token.text for token in tokens], bounds)


class Highlighter:
    """Marks one query's words in the texts of one page, by the query's rule: within the
    word's typo budget (a swap of neighbours is one edit), or for the last word, starting with
    something within that budget. The page's distinct words are judged together, a handful
    of rapidfuzz calls per page instead of a handful per text."""

    def __init__(self, analyzer: tantivy.TextAnalyzer, words: Sequence[str]) -> None:
        self._analyzer = analyzer
        self._words = list(words)

    def matching(self, candidates: Iterable[str]) -> set[str]:
        """The candidate words that some query word matches (none too long to be indexed)."""
        distinct = [word for word in set(candidates) if 0 < len(word) < MAX_TOKEN_CHARS]
        found: set[str] = set()
        for i, word in enumerate(self._words):
            budget = typo_budget(word)
            texts = [distinct]
            if i == len(self._words) - 1:
                lengths = range(max(1, len(word) - budget), len(word) + budget + 1)
                texts += [[candidate[:n] for candidate in distinct] for n in lengths]
            for choices in texts:
                hits = process.extract(
                    word, choices, scorer=OSA.distance, score_cutoff=budget, limit=None
                )
                found.update(distinct[position] for _, _, position in hits)
        return found

    def highlight(self, texts: Sequence[Text]) -> list[str | None]:
        """Per text, its marked-up form (or a fragment around its first match); None for a
        text without a match."""
        cuts = [cut(self._analyzer, text) for text, _ in texts]
        matched = self.matching(word for text in cuts for word in text.words)
        return [
            marked(text, words.spans(matched), whole)
            for (text, whole), words in zip(texts, cuts, strict=True)
        ]


def marked(text: str, spans: Sequence[tuple[int, int]], whole: bool) -> str | None:
    """``text`` escaped with the ``spans`` in ``<mark>``: whole, or the window around the
    first span; None without spans."""
    if not spans:
        return None
    start = 0 if whole else max(0, spans[0][0] - LEAD_CHARS)
    end = len(text) if whole else min(len(text), start + FRAGMENT_CHARS)
    parts, cursor = [], start
    for span_start, span_end in spans:
        if span_end > end:
            break
        parts += [html.escape(text[cursor:span_start]), "<mark>"]
        parts += [html.escape(text[span_start:span_end]), "</mark>"]
        cursor = span_end
    parts.append(html.escape(text[cursor:end]))
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    return prefix + "".join(parts).strip() + suffix
