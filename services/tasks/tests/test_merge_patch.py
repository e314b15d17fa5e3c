"""JSON merge patch semantics over a task's writable fields."""

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from services.tasks.app.merge_patch import apply_merge_patch
from services.tasks.app.schemas import TaskFields
from shared.events import TaskStatus

CURRENT = TaskFields(
    title="t", description="d", tags=["a"], due_date=datetime(2030, 1, 1, tzinfo=UTC)
)


def test_members_replace_and_absent_members_stay() -> None:
    patched = apply_merge_patch(CURRENT, {"status": "done", "tags": ["b", "b", "c"]})
    assert patched.status is TaskStatus.done
    assert patched.tags == ["b", "c"]
    assert patched.title == "t"
    assert patched.description == "d"


def test_null_clears_the_optional_fields() -> None:
    patched = apply_merge_patch(CURRENT, {"due_date": None, "description": None, "tags": None})
    assert patched.due_date is None
    assert patched.description == ""
    assert patched.tags == []


def test_empty_patch_changes_nothing() -> None:
    assert apply_merge_patch(CURRENT, {}) == CURRENT


@pytest.mark.parametrize(
    "patch",
    [
        {"title": None},
        {"status": None},
        {"priority": None},
        {"id": "x"},
        {"version": 2},
        {"owner_id": "x"},
        {"title": {"$ne": ""}},
        {"due_date": 0},
        {"due_date": "2030-01-01T00:00:00"},
        ["title"],
        None,
        "x",
    ],
)
def test_invalid_patches_raise_validation_errors(patch: object) -> None:
    with pytest.raises(ValidationError) as caught:
        apply_merge_patch(CURRENT, patch)
    assert caught.value.errors()
