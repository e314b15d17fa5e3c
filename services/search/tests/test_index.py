"""The index applies events by version, keeps tombstones and commits offsets with its data."""

import json
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import tantivy

from services.search.app.index import (
    TANTIVY_BUILD,
    SeenIds,
    TaskIndex,
    UnpatchedTantivy,
    UnreadableIndex,
    require_tantivy_build,
)
from services.search.app.query import SearchFilters, filter_queries
from services.search.tests.factories import task_event
from shared.events import TaskEventType

HEAP = 15_000_000


@pytest.fixture
def index(tmp_path: Path) -> TaskIndex:
    return TaskIndex.create(tmp_path / "index-1", topic="events", heap_bytes=HEAP)


def test_newer_versions_apply_and_older_or_equal_ones_are_skipped(index: TaskIndex) -> None:
    assert index.stage(partition=0, offset=0, event=task_event(version=2))
    assert not index.stage(partition=0, offset=1, event=task_event(version=2))
    assert not index.stage(partition=0, offset=2, event=task_event(version=1))
    index.commit()
    assert index.version_of("t1") == 2
    assert not index.stage(partition=0, offset=3, event=task_event(version=1))


def test_a_delete_leaves_a_tombstone_an_old_update_cannot_resurrect(index: TaskIndex) -> None:
    index.stage(partition=0, offset=0, event=task_event(version=1))
    index.stage(partition=0, offset=1, event=task_event(version=3, kind=TaskEventType.deleted))
    index.commit()
    updated = task_event(version=2, kind=TaskEventType.updated)
    assert not index.stage(partition=0, offset=2, event=updated)
    assert index.version_of("t1") == 3


def test_offsets_are_committed_with_the_changes_and_survive_a_reopen(
    index: TaskIndex, tmp_path: Path
) -> None:
    index.stage(partition=0, offset=41, event=task_event())
    index.stage(partition=2, offset=7, event=None)
    result = index.commit()
    index.close()
    reopened = TaskIndex.open(tmp_path / "index-1", topic="events", heap_bytes=HEAP)
    assert reopened.offsets == {0: 42, 2: 8}
    assert reopened.take_unbumped_owners() == {"alice"}
    assert reopened.version_of("t1") == 1
    assert result.owners == {"alice"}
    assert result.records == 2


def test_a_reopened_index_looks_versions_up_in_its_commits(
    index: TaskIndex, tmp_path: Path
) -> None:
    index.stage(partition=0, offset=0, event=task_event(version=2))
    index.commit()
    index.close()
    reopened = TaskIndex.open(tmp_path / "index-1", topic="events", heap_bytes=HEAP)
    assert not reopened.stage(partition=0, offset=1, event=task_event(version=1))
    assert reopened.stage(partition=0, offset=2, event=task_event(version=3))
    assert reopened.version_of("t9") is None


def test_seen_ids_hold_what_was_added() -> None:
    seen = SeenIds()
    seen.add("t1")
    assert seen.may_hold("t1")
    assert not any(seen.may_hold(f"other-{number}") for number in range(100))


def test_ids_sharing_a_bit_of_the_seen_filter_are_looked_up(index: TaskIndex) -> None:
    index._seen = SeenIds(bits=8)  # every id shares one of 8 bits with another
    for number in range(20):
        index.stage(partition=0, offset=number, event=task_event(f"t{number}", version=2))
    index.commit()
    assert not index.stage(partition=0, offset=20, event=task_event("t3", version=1))
    assert index.stage(partition=0, offset=21, event=task_event("new", version=1))
    assert index.version_of("t7") == 2


def test_staged_changes_are_invisible_until_commit_and_lost_on_discard(index: TaskIndex) -> None:
    index.stage(partition=0, offset=0, event=task_event())
    index.discard_staged()
    assert index.version_of("t1") is None
    assert index.staged_records == 0


def test_an_index_for_another_topic_or_a_missing_one_is_unreadable(
    index: TaskIndex, tmp_path: Path
) -> None:
    index.close()
    with pytest.raises(UnreadableIndex):
        TaskIndex.open(tmp_path / "index-1", topic="other", heap_bytes=HEAP)
    with pytest.raises(UnreadableIndex):
        TaskIndex.open(tmp_path / "nothing-here", topic="events", heap_bytes=HEAP)


def test_an_index_with_documents_but_no_offsets_is_unreadable(
    index: TaskIndex, tmp_path: Path
) -> None:
    """What an index of an older version looks like (offsets in a document): rebuilt."""
    index.stage(partition=0, offset=0, event=task_event())
    index._writer.commit()  # no payload
    index.close()
    with pytest.raises(UnreadableIndex):
        TaskIndex.open(tmp_path / "index-1", topic="events", heap_bytes=HEAP)


class DeleteRecorder:
    """The index's writer, recording the terms it is asked to delete."""

    def __init__(self, writer: tantivy.IndexWriter) -> None:
        self.writer = writer
        self.deleted: list[str] = []

    def delete_documents_by_term(self, field: str, value: str) -> int:
        self.deleted.append(value)
        return self.writer.delete_documents_by_term(field, value)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.writer, name)


def test_only_a_task_the_index_holds_is_deleted_before_it_is_written_again(
    index: TaskIndex,
) -> None:
    """tantivy applies every delete to every segment at the next commit: creates issue none."""
    recorder = DeleteRecorder(index._writer)
    index._writer = recorder  # type: ignore[assignment]
    index.stage(partition=0, offset=0, event=task_event("t1"))
    index.commit()
    index.stage(partition=0, offset=1, event=task_event("t2"))
    index.stage(
        partition=0, offset=2, event=task_event("t2", version=2, kind=TaskEventType.updated)
    )
    index.commit()
    index.stage(
        partition=0, offset=3, event=task_event("t1", version=2, kind=TaskEventType.updated)
    )
    index.commit()
    assert recorder.deleted == ["id:t2", "id:t1"]
    assert (index.version_of("t1"), index.version_of("t2")) == (2, 2)
    assert len(index.searcher().search(index.id_query("t1"), 10).hits) == 1


def segment_sizes(path: Path) -> list[int]:
    """Documents per segment (deleted ones included), from tantivy's meta.json."""
    meta = json.loads((path / "meta.json").read_text())
    return sorted(segment["max_doc"] for segment in meta["segments"])


def test_small_segments_merge_with_each_other_not_into_a_bigger_one(
    index: TaskIndex, tmp_path: Path
) -> None:
    for offset in range(300):
        index.stage(partition=0, offset=offset, event=task_event(f"bulk{offset}"))
    index.commit()
    for offset in range(300, 308):
        index.stage(partition=0, offset=offset, event=task_event(f"live{offset}"))
        index.commit()
    index.close()  # waits for the merges in flight
    sizes = segment_sizes(tmp_path / "index-1")
    # The 300 tasks' segment, untouched: tantivy's default policy would have merged it with
    # the eight small ones (all of them below its 10,000 floor).
    assert 300 in sizes
    assert len(sizes) < 9


def test_a_tantivy_build_without_our_patches_is_refused_with_the_reason() -> None:
    with pytest.raises(UnpatchedTantivy, match=r"tantivy 0\.27\.0 is installed.*third_party"):
        require_tantivy_build("0.27.0")


def test_the_installed_tantivy_is_the_build_with_our_patches() -> None:
    assert metadata.version("tantivy") == TANTIVY_BUILD


def test_a_zero_score_filter_over_a_whole_segment_is_left_out_of_intersections(
    index: TaskIndex,
) -> None:
    """const-filter.patch: the owner filter of a segment holding only that owner's tasks is
    handed on as tantivy's match-all scorer, which an intersection drops. Seen from here by
    that scorer's own score (1) when it is a query's only clause, and by the scores of a
    word query, unchanged by the filter (it adds 0 either way)."""
    index.stage(partition=0, offset=0, event=task_event("a", title="Buy milk"))
    index.stage(partition=0, offset=1, event=task_event("b", title="Buy bread"))
    index.commit()
    Q, searcher = tantivy.Query, index.searcher()
    [owner] = filter_queries(index.schema, SearchFilters(owner_id="alice"))
    assert [score for score, _ in searcher.search(owner, 5).hits] == [1.0, 1.0]
    word = Q.term_query(index.schema, "title", "milk")
    filtered = Q.boolean_query([(tantivy.Occur.Must, word), (tantivy.Occur.Must, owner)])
    assert searcher.search(filtered, 5).hits[0][0] == searcher.search(word, 5).hits[0][0]
