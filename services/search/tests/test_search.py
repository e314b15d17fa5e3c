"""Queries over a real (on-disk, temporary) tantivy index: matching, ranking, filters, owners."""

from pathlib import Path

import pytest

from services.search.app.index import TaskIndex
from services.search.app.schemas import SearchParams
from services.search.app.service import run_search
from services.search.tests.factories import task_event
from shared.events import TaskCloudEvent, TaskEventType


@pytest.fixture
def index(tmp_path: Path) -> TaskIndex:
    index = TaskIndex.create(tmp_path / "index-1", topic="events", heap_bytes=15_000_000)
    events = [
        task_event("groceries", title="Buy groceries", description="milk and <b>eggs</b>"),
        task_event("report", title="Quarterly report", tags=("finance",), status="done"),
        task_event("desc", title="Call mom", description="talk about groceries"),
        task_event("bob", owner_id="bob", title="Buy groceries for bob"),
        task_event("short", title="Fix the car", priority="high"),
    ]
    apply(index, events)
    return index


def apply(index: TaskIndex, events: list[TaskCloudEvent]) -> None:
    for offset, event in enumerate(events):
        index.stage(partition=0, offset=offset, event=event)
    index.commit()


def ids(index: TaskIndex, q: str, owner: str = "alice", **filters: object) -> list[str]:
    params = SearchParams.model_validate({"q": q, **filters})
    page = run_search(index, owner_id=owner, params=params)
    return [item["task"]["id"] for item in page["items"]]


def test_only_the_callers_tasks_match(index: TaskIndex) -> None:
    assert ids(index, "groceries", owner="bob") == ["bob"]
    assert "bob" not in ids(index, "groceries")


def test_title_matches_rank_above_description_matches(index: TaskIndex) -> None:
    assert ids(index, "groceries") == ["groceries", "desc"]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("grocreies", "groceries"),  # transposition: one edit
        ("groceris", "groceries"),  # one deletion
        ("qaurterly", "report"),  # 9 letters allow two edits
        ("quartely reprt", "report"),
        ("quart", "report"),  # the last word is a prefix
        ("quartre", "report"),  # prefix with a typo
        ("financ", "report"),  # tags are searched too
    ],
)
def test_typos_and_prefixes_match(index: TaskIndex, q: str, expected: str) -> None:
    assert expected in ids(index, q)


def test_the_prefix_kill_switch_leaves_whole_words_and_typos_only(index: TaskIndex) -> None:
    def without_prefix(q: str) -> list[str]:
        params = SearchParams.model_validate({"q": q})
        page = run_search(index, owner_id="alice", params=params, prefix_last_word=False)
        return [item["task"]["id"] for item in page["items"]]

    assert without_prefix("quart") == []
    assert without_prefix("quarterly") == ["report"]
    assert "groceries" in without_prefix("grocreies")


def test_short_words_must_be_exact_and_every_word_must_match(index: TaskIndex) -> None:
    assert ids(index, "cat") == []  # 3 letters: no typo allowed (car ≠ cat)
    assert ids(index, "car") == ["short"]
    assert ids(index, "groceries report") == []


def test_filters_narrow_inside_the_engine(index: TaskIndex) -> None:
    assert ids(index, "quarterly", status="done") == ["report"]
    assert ids(index, "quarterly", status="todo") == []
    assert ids(index, "fix", priority="high") == ["short"]
    assert ids(index, "quarterly", tag="finance") == ["report"]
    assert ids(index, "quarterly", tag="fin") == []


def test_a_value_of_one_kind_never_passes_a_filter_of_another(index: TaskIndex) -> None:
    # Every exact-match value shares one field, prefixed with its kind ("tag:", "owner:").
    tricky = task_event("tricky", owner_id="bob", title="Tricky", tags=("owner:alice", "done"))
    apply(index, [tricky])
    assert ids(index, "tricky") == []
    assert ids(index, "tricky", owner="bob", status="done") == []
    assert ids(index, "tricky", owner="bob", tag="owner:alice") == ["tricky"]


@pytest.mark.parametrize("q", ["title:x OR *", ".*", "$where", '"quoted"', "[({", "\x00", "*"])
def test_query_syntax_is_plain_text(index: TaskIndex, q: str) -> None:
    page = run_search(index, owner_id="alice", params=SearchParams(q=q))
    assert page["total"] == len(page["items"])


def test_pages_and_total(index: TaskIndex) -> None:
    first = run_search(index, owner_id="alice", params=SearchParams(q="groceries", limit=1))
    second = run_search(index, owner_id="alice", params=SearchParams(q="groceries", offset=1))
    assert first["total"] == second["total"] == 2
    assert [i["task"]["id"] for i in first["items"] + second["items"]] == ["groceries", "desc"]


def test_items_are_public_tasks_with_escaped_highlights(index: TaskIndex) -> None:
    page = run_search(index, owner_id="alice", params=SearchParams(q="egg"))
    (item,) = page["items"]
    assert "owner_id" not in item["task"]
    assert item["highlights"] == {"description": "milk and &lt;b&gt;<mark>eggs</mark>&lt;/b&gt;"}
    assert item["score"] > 0


def test_deleted_tasks_and_the_meta_document_never_match(index: TaskIndex) -> None:
    deleted = task_event("groceries", version=2, kind=TaskEventType.deleted, title="Buy groceries")
    apply(index, [deleted])
    assert ids(index, "groceries") == ["desc"]
    assert ids(index, "meta") == []


def test_owners_whose_ids_share_a_prefix_or_dots_stay_apart(index: TaskIndex) -> None:
    owners = ("alice", "alice.smith", "alice.", "ali")
    apply(index, [task_event(owner, owner_id=owner, title="Shared words") for owner in owners])
    for owner in owners:
        assert ids(index, "shared", owner=owner) == [owner]
        assert ids(index, "wor", owner=owner) == [owner]  # prefix (automaton) queries too


def test_a_typo_scores_the_sum_of_the_boosts_of_the_fields_it_matches(tmp_path: Path) -> None:
    """A word with a typo matches no term exactly, so each field it matches adds exactly that
    field's boost (title 3, tags 1.5, description 1). Documents in segments of their own and in
    one shared segment: const-union.patch sums these clauses itself instead of tantivy's
    buffered union, and must give the same scores."""
    index = TaskIndex.create(tmp_path / "index-1", topic="events", heap_bytes=15_000_000)
    everywhere = task_event(
        "all", title="Quarterly report", description="a report", tags=("report",)
    )
    apply(index, [everywhere])
    apply(index, [task_event("title", title="report"), task_event("tags", tags=("reports",))])
    apply(index, [task_event("desc", title="Call mom", description="the report is due")])
    page = run_search(index, owner_id="alice", params=SearchParams(q="reprot"))
    scores = {item["task"]["id"]: item["score"] for item in page["items"]}
    # The last word is also a prefix: "report" starts "reports".
    assert scores == {"all": 5.5, "title": 3.0, "tags": 1.5, "desc": 1.0}
    prefix = run_search(index, owner_id="alice", params=SearchParams(q="calll reprt"))
    assert [(item["task"]["id"], item["score"]) for item in prefix["items"]] == [("desc", 4.0)]
