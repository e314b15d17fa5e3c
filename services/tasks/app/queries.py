"""Turning a validated list query into a MongoDB filter and sort.

Every value placed in a filter here has already been validated as a plain string, enum or
datetime, so nothing a client sends can become a query operator.
"""

from dataclasses import dataclass
from typing import Any

from services.tasks.app.cursors import CursorPosition, SortValue
from services.tasks.app.documents import Document
from services.tasks.app.schemas import ListQuery

SORT_KEYS = {
    "created_at": "created_at",
    "updated_at": "updated_at",
    "due_date": "due_key",
    "priority": "priority_rank",
}


@dataclass(frozen=True)
class SortOrder:
    """A sort on one stored key with the task id as tie-breaker, so paging is total."""

    key: str
    direction: int

    @classmethod
    def parse(cls, spec: str) -> "SortOrder":
        direction = -1 if spec.startswith("-") else 1
        return cls(key=SORT_KEYS[spec.lstrip("+-")], direction=direction)

    def mongo_sort(self) -> list[tuple[str, int]]:
        return [(self.key, self.direction), ("_id", self.direction)]

    def after(self, position: CursorPosition) -> Document:
        """The filter for items strictly after ``position`` in this order."""
        op = "$gt" if self.direction == 1 else "$lt"
        return {
            "$or": [
                {self.key: {op: position.value}},
                {self.key: position.value, "_id": {op: position.task_id}},
            ]
        }

    def position_of(self, doc: Document) -> CursorPosition:
        value: SortValue = doc[self.key]
        return CursorPosition(value=value, task_id=doc["_id"])


def list_filter(owner_id: str, query: ListQuery) -> Document:
    conditions: Document = {"owner_id": owner_id, "deleted": False}
    if query.status is not None:
        conditions["status"] = query.status.value
    if query.priority is not None:
        conditions["priority"] = query.priority.value
    if query.tag is not None:
        conditions["tags"] = query.tag
    due: dict[str, Any] = {}
    if query.due_before is not None:
        due["$lt"] = query.due_before
    if query.due_after is not None:
        due["$gt"] = query.due_after
    if due:
        conditions["due_date"] = due
    return conditions


def filter_fingerprint(owner_id: str, query: ListQuery) -> tuple[object, ...]:
    """What a cursor is bound to: everything in the query except the paging itself."""
    return (owner_id, query.model_dump(mode="json", exclude={"cursor", "page", "limit"}))
