"""List filters are built from validated values only; keyset order is total."""

from datetime import UTC, datetime

from services.tasks.app.cursors import CursorPosition
from services.tasks.app.queries import SortOrder, filter_fingerprint, list_filter
from services.tasks.app.schemas import ListQuery


def test_filter_has_owner_and_only_the_requested_conditions() -> None:
    query = ListQuery.model_validate(
        {"status": "done", "tag": "home", "due_before": "2030-01-01T00:00:00Z"}
    )
    assert list_filter("u1", query) == {
        "owner_id": "u1",
        "deleted": False,
        "status": "done",
        "tags": "home",
        "due_date": {"$lt": datetime(2030, 1, 1, tzinfo=UTC)},
    }


def test_descending_order_pages_below_the_cursor_with_the_id_as_tie_breaker() -> None:
    order = SortOrder.parse("-priority")
    assert order.mongo_sort() == [("priority_rank", -1), ("_id", -1)]
    assert order.after(CursorPosition(value=1, task_id="m")) == {
        "$or": [{"priority_rank": {"$lt": 1}}, {"priority_rank": 1, "_id": {"$lt": "m"}}]
    }


def test_ascending_with_or_without_plus() -> None:
    assert SortOrder.parse("+due_date") == SortOrder.parse("due_date") == SortOrder("due_key", 1)


def test_fingerprint_ignores_paging_but_not_filters() -> None:
    first = ListQuery.model_validate({"limit": 5})
    later = ListQuery.model_validate({"limit": 50, "cursor": "c"})
    filtered = ListQuery.model_validate({"status": "todo"})
    assert filter_fingerprint("u", first) == filter_fingerprint("u", later)
    assert filter_fingerprint("u", first) != filter_fingerprint("u", filtered)
    assert filter_fingerprint("u", first) != filter_fingerprint("v", first)
