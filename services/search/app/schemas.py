"""Request and response models of the search service."""

from typing import NotRequired

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict

from shared.events import PublicTask, TaskPriority, TaskStatus


class SearchParams(BaseModel):
    """Query parameters of ``GET /api/v1/search``; ``q`` is plain text, never query syntax."""

    q: str = Field(min_length=1, max_length=200, description="Words to find (plain text).")
    status: TaskStatus | None = None
    priority: TaskPriority | None = None
    tag: str | None = Field(default=None, min_length=1, max_length=32)
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=10_000)


class Highlights(TypedDict):
    """HTML-escaped text with matched words in ``<mark>``; a field is absent if nothing matched."""

    title: NotRequired[str]
    description: NotRequired[str]


class SearchHit(BaseModel):
    task: PublicTask
    score: float
    highlights: Highlights


class SearchPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"description": "One page of search results."})

    items: list[SearchHit]
    total: int
    took_ms: float
