"""Request models: strict strings, RFC 3339 dates in UTC milliseconds, tag limits."""

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from services.tasks.app.schemas import ListQuery, TaskCreate, TaskPatch, inline_schema


def test_due_dates_become_utc_milliseconds() -> None:
    task = TaskCreate.model_validate({"title": "x", "due_date": "2030-01-01T02:00:00.123456+02:00"})
    assert task.due_date == datetime(2030, 1, 1, 0, 0, 0, 123000, tzinfo=UTC)


@pytest.mark.parametrize(
    "body",
    [
        {"title": 5},
        {"title": ["x"]},
        {"title": "x", "tags": ["a", 1]},
        {"title": "x", "tags": ["bad\ttab"]},
        {"title": "x", "description": None},
        {"title": "x", "due_date": True},
    ],
)
def test_no_coercion_into_strings_or_dates(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        TaskCreate.model_validate(body)


@pytest.mark.parametrize("params", [{"status[$ne]": "x"}, {"limit": 0}, {"sort": "title"}])
def test_list_query_refuses_unknown_and_out_of_range(params: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ListQuery.model_validate(params)


def test_inline_schema_has_no_local_refs() -> None:
    schema = inline_schema(TaskPatch)
    assert "$defs" not in schema
    assert "#/$defs/" not in str(schema)
    assert schema["additionalProperties"] is False
