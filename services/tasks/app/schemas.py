"""Request and response models of the tasks service.

Request models forbid unknown fields and take strings only where strings belong, so a JSON
object smuggled into a field (``{"$ne": null}``) is a 422 and can never reach a query.
"""

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictStr,
    field_validator,
)

from shared.events import PublicTask, TaskPriority, TaskStatus


def encodable(value: str) -> str:
    """Refuse lone surrogates: JSON allows them, UTF-8 (and so BSON) cannot store them."""
    try:
        value.encode()
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode text") from exc
    return value


Text = Annotated[StrictStr, AfterValidator(encodable)]
Title = Annotated[Text, Field(min_length=1, max_length=200, pattern=r"\S")]
Description = Annotated[Text, Field(max_length=10_000)]
Tag = Annotated[Text, Field(min_length=1, max_length=32, pattern=r"^[^\x00-\x1f]+$")]
Tags = Annotated[list[Tag], Field(max_length=20)]


def utc_millis(value: datetime) -> datetime:
    """MongoDB keeps milliseconds; trimming first makes what we return equal what we store."""
    try:
        value = value.astimezone(UTC)
    except OverflowError as exc:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise ValueError("date-time out of range") from exc
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(utc_millis)]


def rfc3339_only(value: object) -> object:
    """Refuse numbers (Unix times) and anything else that is not an RFC 3339 string."""
    if value is not None and not isinstance(value, str | datetime):
        raise ValueError("must be an RFC 3339 date-time string or null")
    return value


DueDate = Annotated[UtcDatetime | None, BeforeValidator(rfc3339_only)]


# The public shape of a task is shared with search, which returns the same objects.
Task = PublicTask


class TaskFields(BaseModel):
    """What a client may write; shared by create and by the merged result of a patch."""

    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Description = ""
    status: TaskStatus = TaskStatus.todo
    priority: TaskPriority = TaskPriority.medium
    tags: Tags = Field(default_factory=list)
    due_date: DueDate = None

    @field_validator("tags")
    @classmethod
    def _unique_tags(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


class TaskCreate(TaskFields):
    """``POST /api/v1/tasks``."""


class TaskPatch(BaseModel):
    """``PATCH /api/v1/tasks/{id}``: a JSON merge patch (RFC 7396); ``null`` clears a field."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: Description | None = None
    status: TaskStatus | None = None
    priority: TaskPriority | None = None
    tags: Tags | None = None
    due_date: DueDate = None


class TaskList(BaseModel):
    """Keyset mode: pass ``next_cursor`` back as ``cursor`` for the next page (null: no more)."""

    items: list[Task]
    next_cursor: str | None


class TaskPage(BaseModel):
    """Page mode (``page=``): numbered pages with the total count."""

    items: list[Task]
    page: int
    limit: int
    total: int


class StatusCounts(BaseModel):
    todo: int = 0
    in_progress: int = 0
    done: int = 0


class TaskStats(BaseModel):
    total: int
    by_status: StatusCounts
    overdue: int


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A model's JSON schema with its ``$defs`` inlined, for hand-written OpenAPI entries."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


SortSpec = Literal[
    "created_at",
    "+created_at",
    "-created_at",
    "updated_at",
    "+updated_at",
    "-updated_at",
    "due_date",
    "+due_date",
    "-due_date",
    "priority",
    "+priority",
    "-priority",
]


class ListQuery(BaseModel):
    """Query parameters of ``GET /api/v1/tasks``; any other parameter is a 422."""

    model_config = ConfigDict(extra="forbid")

    status: TaskStatus | None = None
    priority: TaskPriority | None = None
    tag: Tag | None = None
    due_before: UtcDatetime | None = None
    due_after: UtcDatetime | None = None
    sort: SortSpec = "-created_at"
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, min_length=1, max_length=2048)
    page: int | None = Field(default=None, ge=1, le=100_000)
