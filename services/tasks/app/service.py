"""Domain logic of the tasks service (no HTTP here).

Every write stores the task's new state and its event in one document update, then wakes the
outbox relay; see ``outbox.py`` for how the events leave.
"""

from collections.abc import Callable, Collection
from datetime import datetime

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection

from services.tasks.app.cursors import decode_cursor, encode_cursor, query_digest
from services.tasks.app.documents import (
    OUTBOX_FLAG,
    TASK_FIELDS,
    Document,
    derived_fields,
    etag_of,
    new_task_id,
    now_utc,
    pending_event,
    snapshot_of,
    task_of,
)
from services.tasks.app.errors import (
    ConcurrentUpdate,
    ConflictingPaging,
    TaskNotFound,
    VersionMismatch,
)
from services.tasks.app.locks import KeyedLocks
from services.tasks.app.merge_patch import apply_merge_patch
from services.tasks.app.queries import SortOrder, filter_fingerprint, list_filter
from services.tasks.app.schemas import (
    ListQuery,
    Task,
    TaskCreate,
    TaskFields,
    TaskList,
    TaskPage,
    TaskStats,
)
from services.tasks.app.stats import StatsCache
from shared.context import current_traceparent
from shared.events import TaskEventType

UPDATE_ATTEMPTS = 5
STALE_ETAG = "The task has changed since that ETag; fetch it again."
HIDDEN_FIELDS = {"pending_events": 0, OUTBOX_FLAG: 0}
ALL_FIELDS = None


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
    IndexModel([(OUTBOX_FLAG, ASCENDING), ("pending_events.at", ASCENDING)], name="outbox_due"),
]


async def ensure_indexes(tasks: AsyncCollection[Document]) -> None:
    """Idempotent: creating an index that exists with the same keys and name is a no-op.

    One command per index: FerretDB v1 drops the connection when a single ``createIndexes``
    names several indexes that all exist already (a second replica starting, a restart).
    """
    for index in INDEXES:
        await tasks.create_indexes([index])


def check_precondition(doc: Document, expected_etags: Collection[str] | None) -> None:
    """``If-Match``: ``*`` matches any current task, otherwise one of the ETags must."""
    if expected_etags is None or "*" in expected_etags:
        return
    if etag_of(doc["_id"], doc["version"]) not in expected_etags:
        raise VersionMismatch(STALE_ETAG)


class TaskService:
    def __init__(
        self,
        *,
        tasks: AsyncCollection[Document],
        stats: StatsCache,
        locks: KeyedLocks,
        notify_outbox: Callable[[str, Document | None], None],
        cursor_key: bytes,
        compare_and_set: bool,
    ) -> None:
        self._tasks = tasks
        self._stats = stats
        self._locks = locks
        self._notify = notify_outbox
        self._cursor_key = cursor_key
        self._compare_and_set = compare_and_set

    async def create_task(self, *, owner_id: str, fields: TaskCreate) -> Task:
        at = now_utc()
        values = fields.model_dump()
        doc: Document = {
            "_id": new_task_id(),
            "owner_id": owner_id,
            **values,
            **derived_fields(values),
            "created_at": at,
            "updated_at": at,
            "version": 1,
            "deleted": False,
        }
        event = self._event(doc, TaskEventType.created, at)
        await self._tasks.insert_one({**doc, "pending_events": [event], OUTBOX_FLAG: True})
        self._notify(doc["_id"], event)
        await self._stats.forget(owner_id)
        return task_of(doc)

    async def get_task(self, *, owner_id: str, task_id: str) -> Task:
        return task_of(await self._current(owner_id, task_id))

    async def update_task(
        self, *, owner_id: str, task_id: str, patch: object, expected_etags: Collection[str] | None
    ) -> Task:
        for _ in range(UPDATE_ATTEMPTS):
            async with self._locks.hold(task_id):
                doc = await self._current(owner_id, task_id, ALL_FIELDS)
                check_precondition(doc, expected_etags)
                current = TaskFields.model_validate({name: doc[name] for name in TASK_FIELDS})
                fields = apply_merge_patch(current, patch)
                if fields == current:
                    return task_of(doc)
                values = fields.model_dump()
                written = await self._write_next_version(
                    doc, {**values, **derived_fields(values)}, TaskEventType.updated
                )
            if written is not None:
                await self._stats.forget(owner_id)
                return task_of(written)
            if expected_etags is not None:
                raise VersionMismatch(STALE_ETAG)
        raise ConcurrentUpdate("The task is being changed by others; try again.")

    async def delete_task(
        self, *, owner_id: str, task_id: str, expected_etags: Collection[str] | None
    ) -> int:
        """Deletes the task; returns the version its deletion was written as."""
        for _ in range(UPDATE_ATTEMPTS):
            async with self._locks.hold(task_id):
                doc = await self._current(owner_id, task_id, ALL_FIELDS)
                check_precondition(doc, expected_etags)
                # A tombstone: the document stays, hidden, until the relay has published it.
                written = await self._write_next_version(
                    doc, {"deleted": True}, TaskEventType.deleted
                )
            if written is not None:
                await self._stats.forget(owner_id)
                return int(written["version"])
            if expected_etags is not None:
                raise VersionMismatch(STALE_ETAG)
        raise ConcurrentUpdate("The task is being changed by others; try again.")

    async def list_tasks(self, *, owner_id: str, query: ListQuery) -> TaskList | TaskPage:
        if query.cursor is not None and query.page is not None:
            raise ConflictingPaging("Use either 'cursor' or 'page', not both.")
        order = SortOrder.parse(query.sort)
        conditions = list_filter(owner_id, query)
        if query.page is not None:
            return await self._numbered_page(conditions, order, query.page, query.limit)
        digest = query_digest(*filter_fingerprint(owner_id, query))
        if query.cursor is not None:
            position = decode_cursor(query.cursor, key=self._cursor_key, query_digest=digest)
            conditions = {"$and": [conditions, order.after(position)]}
        docs = await self._find(conditions, order, limit=query.limit + 1)
        next_cursor = None
        if len(docs) > query.limit:
            docs = docs[: query.limit]
            position = order.position_of(docs[-1])
            next_cursor = encode_cursor(position, key=self._cursor_key, query_digest=digest)
        return TaskList(items=[task_of(doc) for doc in docs], next_cursor=next_cursor)

    async def task_stats(self, *, owner_id: str) -> TaskStats:
        return await self._stats.get_or_count(self._tasks, owner_id=owner_id)

    async def _numbered_page(
        self, conditions: Document, order: SortOrder, page: int, limit: int
    ) -> TaskPage:
        docs = await self._find(conditions, order, limit=limit, skip=(page - 1) * limit)
        total = await self._tasks.count_documents(conditions)
        items = [task_of(doc) for doc in docs]
        return TaskPage(items=items, page=page, limit=limit, total=total)

    async def _find(
        self, conditions: Document, order: SortOrder, *, limit: int, skip: int = 0
    ) -> list[Document]:
        cursor = self._tasks.find(conditions, HIDDEN_FIELDS, sort=order.mongo_sort())
        return await cursor.skip(skip).limit(limit).to_list()

    async def _current(
        self, owner_id: str, task_id: str, projection: Document | None = HIDDEN_FIELDS
    ) -> Document:
        # By id alone, which FerretDB pushes down to its primary key; the rest checked here.
        doc = await self._tasks.find_one({"_id": task_id}, projection)
        if doc is None or doc["owner_id"] != owner_id or doc["deleted"]:
            raise TaskNotFound("No such task.")
        return doc

    async def _write_next_version(
        self, doc: Document, changes: Document, event_type: TaskEventType
    ) -> Document | None:
        """Store ``changes`` and their event if nobody wrote since ``doc`` was read.

        Called under the task's lock, so the relay hears of one task's events in order.
        """
        at = now_utc()
        stamp = {"updated_at": at, "version": doc["version"] + 1}
        new_doc = {**doc, **changes, **stamp}
        event = self._event(new_doc, event_type, at)
        result = await self._tasks.update_one(
            self._unchanged_since(doc),
            {
                "$set": {**changes, **stamp, OUTBOX_FLAG: True},
                "$push": {"pending_events": event},
            },
        )
        if not result.matched_count:
            return None
        # Only when nothing was pending before can the relay skip reading the outbox back:
        # older events (a crashed process's, another replica's) must go out first.
        self._notify(doc["_id"], None if doc["pending_events"] else event)
        return new_doc

    def _unchanged_since(self, doc: Document) -> Document:
        """The filter of a write that must not overwrite a newer version.

        FerretDB v1's conditional updates are not atomic (read, modify, write), so there the
        per-task lock is what serialises the writers and the filter is the id alone.
        """
        if self._compare_and_set:
            return {"_id": doc["_id"], "version": doc["version"], "deleted": False}
        return {"_id": doc["_id"]}

    @staticmethod
    def _event(doc: Document, event_type: TaskEventType, at: datetime) -> Document:
        return pending_event(snapshot_of(doc), event_type, at=at, traceparent=current_traceparent())
