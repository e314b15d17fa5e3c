"""What the tasks domain needs from storage: tasks with their outbox, as one small protocol.

``TaskService`` and ``OutboxRelay`` see only this; ``mongo_store.py`` is the one adapter
(MongoDB, and FerretDB behind capability checks), and the unit tests use an in-memory fake.
Documents are plain dicts in the stored shape (``documents.py``).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from services.tasks.app.cursors import CursorPosition
from services.tasks.app.documents import Document
from services.tasks.app.queries import SortOrder
from services.tasks.app.schemas import ListQuery


@dataclass(frozen=True)
class PageRequest:
    """One page of a user's live tasks: filters, order, where the last page ended, size."""

    owner_id: str
    query: ListQuery
    order: SortOrder
    after: CursorPosition | None
    limit: int
    skip: int = 0


class TaskStore(Protocol):
    async def ensure_indexes(self) -> None: ...

    async def insert(self, doc: Document) -> None:
        """Store a new task document (with its first event already in its outbox)."""

    async def get(self, task_id: str) -> Document | None:
        """The stored document, outbox included, or None."""

    async def write_if_version(
        self, task_id: str, *, version: int, changes: Document, event: Document
    ) -> bool:
        """Compare-and-set: apply ``changes`` and append ``event`` to the outbox only if the
        task is still at ``version`` and not deleted, atomically in the database. False if
        another writer got there first."""

    async def find_page(self, page: PageRequest) -> list[Document]: ...

    async def count(self, *, owner_id: str, query: ListQuery) -> int: ...

    async def count_by_status(self, *, owner_id: str) -> dict[str, int]: ...

    async def count_overdue(self, *, owner_id: str, now: datetime) -> int: ...

    async def pending_outboxes(self, task_ids: Sequence[str]) -> list[Document]:
        """``{_id, pending_events}`` of those tasks that still hold unpublished events."""

    async def acknowledge(self, task_id: str, published: Sequence[Document]) -> None:
        """Remove exactly ``published`` from the outbox (a published delete removes the
        task); events a newer write added meanwhile stay."""

    async def stale_task_ids(self, *, older_than: datetime, limit: int) -> list[str]: ...
