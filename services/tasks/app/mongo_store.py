"""The ``TaskStore`` on MongoDB, and on FerretDB (the local stack) behind capability checks.

Every task write is a compare-and-set on ``version`` in the database itself. MongoDB applies a
single-document update atomically with its filter; FerretDB v1 did not (read, modify, write),
so our FerretDB build serialises a collection's updates, deletes and findAndModify
(``deploy/local/ferretdb/``, docs/decisions/0200-atomic-conditional-writes.md), and the same
filter is safe on both.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from bson import Int64
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.tasks.app.bounded import gather_bounded
from services.tasks.app.documents import OUTBOX_FLAG, Document
from services.tasks.app.queries import list_filter
from services.tasks.app.schemas import ListQuery
from services.tasks.app.store import PageRequest
from shared.clients import server_is_ferretdb
from shared.events import TaskEventType, TaskStatus

HIDDEN_FIELDS = {"pending_events": 0, OUTBOX_FLAG: 0}
OUTBOX_PROJECTION = {"pending_events": 1}


def _owner_index(name: str, *keys: str) -> IndexModel:
    """Owner first (every list is one user's), then the filter or sort key, then the id."""
    return IndexModel([("owner_id", ASCENDING), *((key, ASCENDING) for key in keys)], name=name)


INDEXES = [
    _owner_index("owner_created", "created_at", "_id"),
    _owner_index("owner_updated", "updated_at", "_id"),
    _owner_index("owner_due", "due_key", "_id"),
    _owner_index("owner_priority", "priority_rank", "_id"),
    _owner_index("owner_status_created", "status", "created_at", "_id"),
    _owner_index("owner_tags", "tags"),
    # Stats: every count is answered from this index alone (no document is read).
    _owner_index("owner_live_status_due", "deleted", "status", "due_key"),
    IndexModel([(OUTBOX_FLAG, ASCENDING), ("pending_events.at", ASCENDING)], name="outbox_due"),
]


@dataclass(frozen=True)
class Capabilities:
    """What the server does well; FerretDB v1 (SQLite) differs from MongoDB in these."""

    # ``{_id: {$in: [...]}}`` uses the primary key (FerretDB pushes down only ``_id`` equality).
    id_lists_use_index: bool
    # ``createIndexes`` naming several existing indexes is a no-op (FerretDB drops the connection).
    create_many_indexes_at_once: bool
    # ``count_documents`` (an aggregation) uses the index; FerretDB counts in SQL only for the
    # ``count`` command (our patch), and decodes every matching document for an aggregation.
    aggregated_counts_use_index: bool

    @classmethod
    async def of(cls, database: AsyncDatabase[Document]) -> "Capabilities":
        mongodb = not await server_is_ferretdb(database.client)
        return cls(
            id_lists_use_index=mongodb,
            create_many_indexes_at_once=mongodb,
            aggregated_counts_use_index=mongodb,
        )


def live(owner_id: str) -> Document:
    return {"owner_id": owner_id, "deleted": False}


class MongoTaskStore:
    def __init__(self, tasks: AsyncCollection[Document], capabilities: Capabilities) -> None:
        self._tasks = tasks
        self._can = capabilities

    async def ensure_indexes(self) -> None:
        """Idempotent: an index that exists with the same keys and name is a no-op."""
        if self._can.create_many_indexes_at_once:
            await self._tasks.create_indexes(INDEXES)
            return
        for index in INDEXES:
            await self._tasks.create_indexes([index])

    async def insert(self, doc: Document) -> None:
        await self._tasks.insert_one(doc)

    async def get(self, task_id: str) -> Document | None:
        return await self._tasks.find_one({"_id": task_id})

    async def write_if_version(
        self, task_id: str, *, version: int, changes: Document, event: Document
    ) -> bool:
        result = await self._tasks.update_one(
            {"_id": task_id, "version": version, "deleted": False},
            {"$set": {**changes, OUTBOX_FLAG: True}, "$push": {"pending_events": event}},
        )
        return result.matched_count == 1

    async def find_page(self, page: PageRequest) -> list[Document]:
        conditions = self._page_filter(page)
        cursor = self._tasks.find(conditions, HIDDEN_FIELDS, sort=page.order.mongo_sort())
        return await cursor.skip(page.skip).limit(page.limit).to_list()

    async def explain_page(self, page: PageRequest) -> Document:
        """The server's plan for ``find_page`` (tests prove each list shape uses an index).

        The explain command by hand: FerretDB wants ``skip`` and ``limit`` as 64-bit integers.
        """
        find = {
            "find": self._tasks.name,
            "filter": self._page_filter(page),
            "sort": dict(page.order.mongo_sort()),
            "projection": HIDDEN_FIELDS,
            "skip": Int64(page.skip),
            "limit": Int64(page.limit),
        }
        plan: Document = await self._tasks.database.command("explain", find)
        return plan

    @staticmethod
    def _page_filter(page: PageRequest) -> Document:
        conditions = list_filter(page.owner_id, page.query)
        if page.after is not None:
            conditions = {"$and": [conditions, page.order.after(page.after)]}
        return conditions

    async def count(self, *, owner_id: str, query: ListQuery) -> int:
        return await self._count(list_filter(owner_id, query))

    async def count_by_status(self, *, owner_id: str) -> dict[str, int]:
        # One count per status rather than a $group: each is an index range on MongoDB and
        # FerretDB alike, where a $group reads every task of the user.
        return {
            status.value: await self._count({**live(owner_id), "status": status.value})
            for status in TaskStatus
        }

    async def count_overdue(self, *, owner_id: str, now: datetime) -> int:
        # One range of (owner, deleted, status, due_key) per open status; due_key is the due
        # date, or a date in year 9999 for tasks without one.
        open_statuses = (status for status in TaskStatus if status is not TaskStatus.done)
        return sum(
            [
                await self._count(
                    {**live(owner_id), "status": status.value, "due_key": {"$lt": now}}
                )
                for status in open_statuses
            ]
        )

    async def _count(self, conditions: Document) -> int:
        if self._can.aggregated_counts_use_index:
            return await self._tasks.count_documents(conditions)
        reply = await self._tasks.database.command("count", self._tasks.name, query=conditions)
        count: int = reply["n"]
        return count

    async def pending_outboxes(self, task_ids: Sequence[str]) -> list[Document]:
        docs: list[Document | None]
        if self._can.id_lists_use_index:
            found = self._tasks.find({"_id": {"$in": list(task_ids)}}, OUTBOX_PROJECTION)
            docs = list(await found.to_list())
        else:
            # One lookup by id each: FerretDB pushes ``_id`` equality down to SQLite, not ``$in``.
            lookups = [
                partial(self._tasks.find_one, {"_id": id_}, OUTBOX_PROJECTION) for id_ in task_ids
            ]
            docs = await gather_bounded(lookups)
        return [doc for doc in docs if doc and doc.get("pending_events")]

    async def acknowledge(self, task_id: str, published: Sequence[Document]) -> None:
        """``$pullAll`` of the very entries read keeps any event a newer write added; the
        outbox flag is cleared only when nothing else can be pending (same version, same
        number of entries), else the sweeper would never look at this task again."""
        if any(event["type"] == TaskEventType.deleted for event in published):
            # Nothing follows a delete, so every event of this task is out now.
            await self._tasks.delete_one({"_id": task_id})
            return
        pull = {"$pullAll": {"pending_events": list(published)}}
        only_these = {
            "_id": task_id,
            "version": max(event["version"] for event in published),
            "pending_events": {"$size": len(published)},
        }
        cleared = await self._tasks.update_one(only_these, {**pull, "$set": {OUTBOX_FLAG: False}})
        if not cleared.matched_count:
            await self._tasks.update_one({"_id": task_id}, pull)

    async def stale_task_ids(self, *, older_than: datetime, limit: int) -> list[str]:
        stale = {OUTBOX_FLAG: True, "pending_events.at": {"$lt": older_than}}
        cursor = self._tasks.find(stale, {"_id": 1})
        return [doc["_id"] async for doc in cursor.limit(limit)]
