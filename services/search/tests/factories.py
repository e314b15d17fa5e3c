"""Task events for unit tests, built with the shared event models."""

from datetime import UTC, datetime

from aiokafka import ConsumerRecord

from shared.events import TaskCloudEvent, TaskEventType, TaskSnapshot, encode_event

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def task_event(
    task_id: str = "t1",
    *,
    owner_id: str = "alice",
    version: int = 1,
    kind: TaskEventType = TaskEventType.created,
    title: str = "Buy groceries",
    description: str = "",
    tags: tuple[str, ...] = (),
    status: str = "todo",
    priority: str = "medium",
) -> TaskCloudEvent:
    snapshot = TaskSnapshot.model_validate(
        {
            "id": task_id,
            "owner_id": owner_id,
            "title": title,
            "description": description,
            "status": status,
            "priority": priority,
            "tags": list(tags),
            "created_at": NOW,
            "updated_at": NOW,
            "version": version,
        }
    )
    return TaskCloudEvent(
        id=f"{task_id}-{version}", type=kind, subject=task_id, time=NOW, data=snapshot
    )


def record(
    offset: int, task_id: str, *, owner_id: str = "alice", topic: str = "events"
) -> ConsumerRecord[bytes, bytes]:
    """A record of partition 0 as the consumer hands it out: the created event of ``task_id``."""
    value = encode_event(task_event(task_id, owner_id=owner_id))
    return ConsumerRecord(topic, 0, offset, 0, 0, task_id.encode(), value, None, 0, len(value), ())
