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


@pytest.mark.parametrize(
    "body",
    [
        {"title": "\ud800"},
        {"title": "x", "description": "a\udfffb"},
        {"title": "x", "tags": ["\ud83d"]},
        {"title": "x", "due_date": "0001-01-01T00:00:00+01:00"},
        {"title": "x", "due_date": "9999-12-31T23:59:59-01:00"},
    ],
)
def test_what_storage_cannot_hold_is_a_validation_error(body: dict[str, object]) -> None:
    # Lone surrogates cannot be UTF-8 encoded and such dates overflow in UTC: without these
    # checks both would fail only at the database, as a 500.
    with pytest.raises(ValidationError):
        TaskCreate.model_validate(body)


def test_query_dates_out_of_range_are_validation_errors() -> None:
    with pytest.raises(ValidationError):
        ListQuery.model_validate({"due_after": "0001-01-01T00:00:00+05:00"})
