"""Domain logic of the tasks service (no HTTP here).

Every write stores the task's new state and its event in one document update, then wakes the
outbox relay; see ``outbox.py`` for how the events leave.
"""

from collections.abc import Callable, Collection
from datetime import datetime

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
from services.tasks.app.merge_patch import apply_merge_patch
from services.tasks.app.queries import SortOrder, filter_fingerprint
from services.tasks.app.schemas import (
    ListQuery,
    Task,
    TaskCreate,
    TaskFields,
    TaskList,
    TaskPage,
    TaskStats,
)
from services.tasks.app.stats import TaskStatsCache
from services.tasks.app.store import PageRequest, TaskStore
from shared.context import current_traceparent
from shared.events import TaskEventType

# An unconditional write retries its compare-and-set this often before answering 409.
UPDATE_ATTEMPTS = 20
STALE_ETAG = "The task has changed since that ETag; fetch it again."


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
        store: TaskStore,
        stats: TaskStatsCache,
        notify_outbox: Callable[[str, Document | None], None],
        cursor_key: bytes,
    ) -> None:
        self._store = store
        self._stats = stats
        self._notify = notify_outbox
        self._cursor_key = cursor_key

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
        await self._store.insert({**doc, "pending_events": [event], OUTBOX_FLAG: True})
        self._notify(doc["_id"], event)
        await self._stats.forget(owner_id)
        return task_of(doc)

    async def get_task(self, *, owner_id: str, task_id: str) -> Task:
        return task_of(await self._current(owner_id, task_id))

    async def update_task(
        self, *, owner_id: str, task_id: str, patch: object, expected_etags: Collection[str] | None
    ) -> Task:
        for _ in range(UPDATE_ATTEMPTS):
            doc = await self._current(owner_id, task_id)
            check_precondition(doc, expected_etags)
            current = TaskFields.model_validate({name: doc[name] for name in TASK_FIELDS})
            fields = apply_merge_patch(current, patch)
            if fields == current:
                return task_of(doc)
            values = fields.model_dump()
            changes = {**values, **derived_fields(values)}
            written = await self._write_next_version(doc, changes, TaskEventType.updated)
            if written is not None:
                await self._stats.forget(owner_id)
                return task_of(written)
            # Another writer won this version: a conditional write has lost, others retry.
            if expected_etags is not None and "*" not in expected_etags:
                raise VersionMismatch(STALE_ETAG)
        raise ConcurrentUpdate("The task is being changed by others; try again.")

    async def delete_task(
        self, *, owner_id: str, task_id: str, expected_etags: Collection[str] | None
    ) -> int:
        """Deletes the task; returns the version its deletion was written as."""
        for _ in range(UPDATE_ATTEMPTS):
            doc = await self._current(owner_id, task_id)
            check_precondition(doc, expected_etags)
            # A tombstone: the document stays, hidden, until the relay has published it.
            written = await self._write_next_version(doc, {"deleted": True}, TaskEventType.deleted)
            if written is not None:
                await self._stats.forget(owner_id)
                return int(written["version"])
            if expected_etags is not None and "*" not in expected_etags:
                raise VersionMismatch(STALE_ETAG)
        raise ConcurrentUpdate("The task is being changed by others; try again.")

    async def list_tasks(self, *, owner_id: str, query: ListQuery) -> TaskList | TaskPage:
        if query.cursor is not None and query.page is not None:
            raise ConflictingPaging("Use either 'cursor' or 'page', not both.")
        order = SortOrder.parse(query.sort)
        if query.page is not None:
            return await self._numbered_page(owner_id, query, order, query.page)
        digest = query_digest(*filter_fingerprint(owner_id, query))
        after = None
        if query.cursor is not None:
            after = decode_cursor(query.cursor, key=self._cursor_key, query_digest=digest)
        page = PageRequest(owner_id, query, order, after, limit=query.limit + 1)
        docs = await self._store.find_page(page)
        next_cursor = None
        if len(docs) > query.limit:
            docs = docs[: query.limit]
            position = order.position_of(docs[-1])
            next_cursor = encode_cursor(position, key=self._cursor_key, query_digest=digest)
        return TaskList(items=[task_of(doc) for doc in docs], next_cursor=next_cursor)

    async def task_stats(self, *, owner_id: str) -> TaskStats:
        return await self._stats.get_or_count(self._store, owner_id=owner_id)

    async def _numbered_page(
        self, owner_id: str, query: ListQuery, order: SortOrder, page: int
    ) -> TaskPage:
        skip = (page - 1) * query.limit
        request = PageRequest(owner_id, query, order, None, limit=query.limit, skip=skip)
        docs = await self._store.find_page(request)
        total = await self._store.count(owner_id=owner_id, query=query)
        items = [task_of(doc) for doc in docs]
        return TaskPage(items=items, page=page, limit=query.limit, total=total)

    async def _current(self, owner_id: str, task_id: str) -> Document:
        doc = await self._store.get(task_id)
        if doc is None or doc["owner_id"] != owner_id or doc["deleted"]:
            raise TaskNotFound("No such task.")
        return doc

    async def _write_next_version(
        self, doc: Document, changes: Document, event_type: TaskEventType
    ) -> Document | None:
        """Store ``changes`` and their event if nobody wrote since ``doc`` was read."""
        at = now_utc()
        stamp = {"updated_at": at, "version": doc["version"] + 1}
        new_doc = {**doc, **changes, **stamp}
        event = self._event(new_doc, event_type, at)
        written = await self._store.write_if_version(
            doc["_id"], version=doc["version"], changes={**changes, **stamp}, event=event
        )
        if not written:
            return None
        # Only when nothing was pending before can the relay skip reading the outbox back:
        # older events (a crashed process's, another replica's) must go out first.
        self._notify(doc["_id"], None if doc.get("pending_events") else event)
        return new_doc

    @staticmethod
    def _event(doc: Document, event_type: TaskEventType, at: datetime) -> Document:
        return pending_event(snapshot_of(doc), event_type, at=at, traceparent=current_traceparent())
