"""Task events on Kafka: CloudEvents 1.0 in structured JSON mode.

These models are the single source of the event format: the tasks service publishes them, the
search service consumes them, and the AsyncAPI document is generated from them.
"""

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"


class TaskStatus(StrEnum):
    todo = "todo"
    in_progress = "in_progress"
    done = "done"


class TaskPriority(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"


class TaskEventType(StrEnum):
    created = "taskstream.task.created"
    updated = "taskstream.task.updated"
    deleted = "taskstream.task.deleted"


class PublicTask(BaseModel):
    """A task as the public API shows it: tasks returns it, search wraps it in its hits."""

    id: str
    title: str
    description: str
    status: TaskStatus
    priority: TaskPriority
    tags: list[str]
    due_date: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int


class TaskSnapshot(BaseModel):
    """A task's full state at one version, with its owner (never shown to other users)."""

    model_config = ConfigDict(extra="ignore")

    id: str
    owner_id: str
    title: str
    description: str = ""
    status: TaskStatus
    priority: TaskPriority
    tags: list[str] = Field(default_factory=list)
    due_date: datetime | None = None
    created_at: datetime
    updated_at: datetime
    version: int = Field(ge=1)


class TaskCloudEvent(BaseModel):
    """One change of one task. Kafka key: the task id; header ``traceparent``."""

    model_config = ConfigDict(extra="ignore")

    specversion: Literal["1.0"] = "1.0"
    id: str
    source: Literal["/taskstream/tasks"] = "/taskstream/tasks"
    type: TaskEventType
    subject: str
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    data: TaskSnapshot


def encode_event(event: TaskCloudEvent) -> bytes:
    return event.model_dump_json().encode()


def decode_event(value: bytes) -> TaskCloudEvent:
    return TaskCloudEvent.model_validate_json(value)
