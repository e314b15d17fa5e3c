"""JSON merge patch (RFC 7396) over a task's writable fields.

``null`` removes a member: for the optional fields that means back to empty (no due date,
no description, no tags); the required ones cannot be removed.
"""

from typing import Any

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from services.tasks.app.schemas import TaskFields, TaskPatch

CLEARED_VALUES: dict[str, Any] = {"due_date": None, "description": "", "tags": []}


def apply_merge_patch(current: TaskFields, patch: object) -> TaskFields:
    """The fields after ``patch``; raises ``ValidationError`` naming every bad member."""
    if not isinstance(patch, dict):
        raise _invalid((), "object_type", "A merge patch must be a JSON object.", patch)
    validated = TaskPatch.model_validate(patch)
    merged = current.model_dump()
    for name in validated.model_fields_set:
        value = getattr(validated, name)
        if value is None and name not in CLEARED_VALUES:
            raise _invalid((name,), "not_nullable", f"'{name}' cannot be removed.", None)
        merged[name] = CLEARED_VALUES[name] if value is None else value
    return TaskFields.model_validate(merged)


def _invalid(loc: tuple[str, ...], kind: str, message: str, value: object) -> ValidationError:
    error = InitErrorDetails(type=PydanticCustomError(kind, message), loc=loc, input=value)
    return ValidationError.from_exception_data("TaskPatch", [error])
