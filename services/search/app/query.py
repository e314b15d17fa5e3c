"""Engine queries built in code from analysed words: the user's text is never query syntax."""

from collections.abc import Sequence
from dataclasses import dataclass

import tantivy

from services.search.app.index import KEYS, key
from shared.events import TaskPriority, TaskStatus

# Title matters most, then tags, then the description (Meilisearch's attribute ranking).
FIELD_BOOSTS = {"title": 3.0, "tags": 1.5, "description": 1.0}
# An exact word outranks a typo or a prefix of it.
EXACT_BONUS = 2.0
# A 200-character query has at most ~100 words; beyond this many they add cost, not recall.
MAX_WORDS = 16


@dataclass(frozen=True)
class SearchFilters:
    owner_id: str
    status: TaskStatus | None = None
    priority: TaskPriority | None = None
    tag: str | None = None


def typo_budget(word: str) -> int:
    """Edits forgiven in a word: none below 4 letters, one from 4, two from 8."""
    if len(word) >= 8:
        return 2
    return 1 if len(word) >= 4 else 0


def query_words(analyzer: tantivy.TextAnalyzer, text: str) -> list[str]:
    """The analysed words of the query, de-duplicated in order, the last one kept last."""
    words = list(dict.fromkeys(analyzer.analyze(text)))
    return words[-MAX_WORDS:]


def word_query(schema: tantivy.Schema, word: str, *, as_prefix: bool) -> tantivy.Query:
    """One word in any field: exact (BM25), and within its typo budget or as a prefix."""
    Q = tantivy.Query
    distance = typo_budget(word)
    clauses: list[tantivy.Query] = []
    for field, boost in FIELD_BOOSTS.items():
        clauses.append(Q.boost_query(Q.term_query(schema, field, word), boost * EXACT_BONUS))
        if distance or as_prefix:
            fuzzy = Q.fuzzy_term_query(
                schema,
                field,
                word,
                distance=distance,
                transposition_cost_one=True,
                prefix=as_prefix,
            )
            clauses.append(Q.boost_query(fuzzy, boost))
    return Q.boolean_query([(tantivy.Occur.Should, clause) for clause in clauses])


def filter_queries(schema: tantivy.Schema, filters: SearchFilters) -> list[tantivy.Query]:
    values = {
        "owner": filters.owner_id,
        "status": filters.status.value if filters.status else None,
        "priority": filters.priority.value if filters.priority else None,
        "tag": filters.tag,
    }
    # Filters decide what matches, not how well: they add nothing to the score.
    return [
        tantivy.Query.const_score_query(
            tantivy.Query.term_query(schema, KEYS, key(kind, value)), 0.0
        )
        for kind, value in values.items()
        if value is not None
    ]


def build_query(
    schema: tantivy.Schema,
    *,
    words: Sequence[str],
    filters: SearchFilters,
    prefix_last_word: bool = True,
) -> tantivy.Query:
    """Every word must match (as Meilisearch does); the owner filter is part of the query.

    ``prefix_last_word`` is search-as-you-type; the flag ``search.prefix-last-word`` can turn
    it off (a kill switch should prefix queries ever misbehave or cost too much).
    """
    if not words:
        return tantivy.Query.empty_query()
    last = len(words) - 1 if prefix_last_word else -1
    matches = [word_query(schema, word, as_prefix=i == last) for i, word in enumerate(words)]
    clauses = [(tantivy.Occur.Must, q) for q in (*filter_queries(schema, filters), *matches)]
    return tantivy.Query.boolean_query(clauses)
