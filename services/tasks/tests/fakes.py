"""In-memory stand-ins for the tasks service's storage and cache, for unit tests.

``InMemoryTaskStore`` keeps the ``TaskStore`` contract (compare-and-set on ``version``,
outbox kept in the document) in a dict; ``before_write`` lets a test slip another writer in
between a service's read and its write, as a second replica would.
"""

import copy
from collections.abc import Callable, Sequence
from datetime import datetime

from services.tasks.app.documents import OUTBOX_FLAG, Document
from services.tasks.app.schemas import ListQuery, TaskStats
from services.tasks.app.stats import count_stats
from services.tasks.app.store import PageRequest, TaskStore
from shared.events import TaskEventType, TaskStatus


def matches(doc: Document, owner_id: str, query: ListQuery) -> bool:
    due = doc["due_date"]
    return (
        doc["owner_id"] == owner_id
        and not doc["deleted"]
        and (query.status is None or doc["status"] == query.status.value)
        and (query.priority is None or doc["priority"] == query.priority.value)
        and (query.tag is None or query.tag in doc["tags"])
        and (query.due_before is None or (due is not None and due < query.due_before))
        and (query.due_after is None or (due is not None and due > query.due_after))
    )


class InMemoryTaskStore:
    def __init__(self) -> None:
        self.docs: dict[str, Document] = {}
        self.before_write: Callable[[str], None] | None = None

    async def ensure_indexes(self) -> None:
        return None

    async def insert(self, doc: Document) -> None:
        if doc["_id"] in self.docs:
            raise KeyError(doc["_id"])
        self.docs[doc["_id"]] = copy.deepcopy(doc)

    async def get(self, task_id: str) -> Document | None:
        doc = self.docs.get(task_id)
        return copy.deepcopy(doc) if doc is not None else None

    async def write_if_version(
        self, task_id: str, *, version: int, changes: Document, event: Document
    ) -> bool:
        if self.before_write is not None:
            self.before_write(task_id)
        doc = self.docs.get(task_id)
        if doc is None or doc["version"] != version or doc["deleted"]:
            return False
        doc.update(copy.deepcopy(changes))
        doc["pending_events"].append(copy.deepcopy(event))
        doc[OUTBOX_FLAG] = True
        return True

    async def find_page(self, page: PageRequest) -> list[Document]:
        order = page.order
        found = [doc for doc in self.docs.values() if matches(doc, page.owner_id, page.query)]
        if page.after is not None:
            mark = (page.after.value, page.after.task_id)
            found = [
                doc
                for doc in found
                if ((doc[order.key], doc["_id"]) > mark) == (order.direction == 1)
                and (doc[order.key], doc["_id"]) != mark
            ]
        found.sort(key=lambda doc: (doc[order.key], doc["_id"]), reverse=order.direction == -1)
        return copy.deepcopy(found[page.skip : page.skip + page.limit])

    async def count(self, *, owner_id: str, query: ListQuery) -> int:
        return sum(matches(doc, owner_id, query) for doc in self.docs.values())

    async def count_by_status(self, *, owner_id: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for doc in self.docs.values():
            if doc["owner_id"] == owner_id and not doc["deleted"]:
                counts[doc["status"]] = counts.get(doc["status"], 0) + 1
        return counts

    async def count_overdue(self, *, owner_id: str, now: datetime) -> int:
        return sum(
            doc["owner_id"] == owner_id
            and not doc["deleted"]
            and doc["status"] != TaskStatus.done.value
            and doc["due_date"] is not None
            and doc["due_date"] < now
            for doc in self.docs.values()
        )

    async def pending_outboxes(self, task_ids: Sequence[str]) -> list[Document]:
        docs = (self.docs.get(task_id) for task_id in task_ids)
        return [
            {"_id": doc["_id"], "pending_events": copy.deepcopy(doc["pending_events"])}
            for doc in docs
            if doc is not None and doc["pending_events"]
        ]

    async def acknowledge(self, task_id: str, published: Sequence[Document]) -> None:
        doc = self.docs.get(task_id)
        if doc is None:
            return
        if any(event["type"] == TaskEventType.deleted for event in published):
            del self.docs[task_id]
            return
        doc["pending_events"] = [e for e in doc["pending_events"] if e not in published]
        doc[OUTBOX_FLAG] = bool(doc["pending_events"])

    async def stale_task_ids(self, *, older_than: datetime, limit: int) -> list[str]:
        stale = [
            doc["_id"]
            for doc in self.docs.values()
            if doc[OUTBOX_FLAG] and any(e["at"] < older_than for e in doc["pending_events"])
        ]
        return stale[:limit]


class UncachedStats:
    """The stats cache with nothing cached: every call counts, as on a cache miss."""

    def __init__(self) -> None:
        self.forgotten: list[str] = []

    async def get_or_count(self, store: TaskStore, *, owner_id: str) -> TaskStats:
        return await count_stats(store, owner_id=owner_id)

    async def forget(self, owner_id: str) -> None:
        self.forgotten.append(owner_id)
