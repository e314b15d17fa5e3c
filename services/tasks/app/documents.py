"""How a task is stored: one MongoDB document holds the task and its unpublished events.

Keeping the events in the task's own document is the outbox: a single-document write is
atomic on FerretDB and MongoDB alike, so a task never changes without its event being recorded.
"""

import uuid
from datetime import UTC, datetime
from typing import Any

from services.tasks.app.schemas import Task, utc_millis
from shared.events import TaskCloudEvent, TaskEventType, TaskPriority, TaskSnapshot, encode_event

Document = dict[str, Any]

PRIORITY_RANK = {TaskPriority.low: 0, TaskPriority.medium: 1, TaskPriority.high: 2}
# Tasks without a due date sort after every dated task when sorting by due date ascending.
NO_DUE_DATE = datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
TASK_FIELDS = ("title", "description", "status", "priority", "tags", "due_date")
# True while the document may hold unpublished events: a top-level equality, so the outbox
# sweeper's query uses an index on FerretDB too (it pushes down no filter on array members).
OUTBOX_FLAG = "outbox_pending"


def now_utc() -> datetime:
    return utc_millis(datetime.now(UTC))


def new_task_id() -> str:
    return str(uuid.uuid4())


def derived_fields(fields: Document) -> Document:
    """Fields kept only so that sorts and keyset paging run on plain comparable values."""
    due = fields["due_date"]
    return {
        "priority_rank": PRIORITY_RANK[TaskPriority(fields["priority"])],
        "due_key": NO_DUE_DATE if due is None else due,
    }


def snapshot_of(doc: Document) -> TaskSnapshot:
    return TaskSnapshot.model_validate({**doc, "id": doc["_id"]})


def task_of(doc: Document) -> Task:
    return Task.model_validate({**doc, "id": doc["_id"]})


def pending_event(
    snapshot: TaskSnapshot, event_type: TaskEventType, *, at: datetime, traceparent: str
) -> Document:
    """An outbox entry: the encoded CloudEvent, ready to publish exactly as it was written."""
    event = TaskCloudEvent(
        id=str(uuid.uuid4()), type=event_type, subject=snapshot.id, time=at, data=snapshot
    )
    return {
        "id": event.id,
        "type": event_type.value,
        "version": snapshot.version,
        "value": encode_event(event).decode(),
        "traceparent": traceparent,
        "at": at,
    }


def etag_of(task_id: str, version: int) -> str:
    return f'"{task_id}-v{version}"'
