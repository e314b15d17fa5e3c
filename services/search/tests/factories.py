"""Task events for unit tests, built with the shared event models."""

from datetime import UTC, datetime

from shared.events import TaskCloudEvent, TaskEventType, TaskSnapshot

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
