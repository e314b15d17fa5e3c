"""TaskService on the in-memory store: versions, merge patch, preconditions, compare-and-set."""

from datetime import UTC, datetime, timedelta

import pytest

from services.tasks.app.documents import Document, etag_of
from services.tasks.app.errors import (
    ConcurrentUpdate,
    ConflictingPaging,
    InvalidCursor,
    TaskNotFound,
    VersionMismatch,
)
from services.tasks.app.schemas import ListQuery, Task, TaskCreate, TaskList, TaskPage
from services.tasks.app.service import UPDATE_ATTEMPTS, TaskService
from services.tasks.tests.fakes import InMemoryTaskStore, UncachedStats

OWNER = "user-1"


class Harness:
    def __init__(self) -> None:
        self.store = InMemoryTaskStore()
        self.stats = UncachedStats()
        self.notified: list[tuple[str, Document | None]] = []
        self.service = TaskService(
            store=self.store,
            stats=self.stats,
            notify_outbox=lambda task_id, event: self.notified.append((task_id, event)),
            cursor_key=b"k" * 32,
        )

    async def create(self, title: str = "write tests", **fields: object) -> Task:
        body = TaskCreate.model_validate({"title": title, **fields})
        return await self.service.create_task(owner_id=OWNER, fields=body)

    def events(self, task_id: str) -> list[Document]:
        pending: list[Document] = self.store.docs[task_id]["pending_events"]
        return pending

    def another_writer(self, task_id: str, *, times: int = 1) -> None:
        """The next ``times`` writes find that someone else wrote a version first."""
        remaining = [times]

        def bump(written: str) -> None:
            if written == task_id and remaining[0] > 0:
                remaining[0] -= 1
                self.store.docs[task_id]["version"] += 1
                self.store.docs[task_id]["title"] = f"theirs {self.store.docs[task_id]['version']}"

        self.store.before_write = bump


@pytest.fixture
def h() -> Harness:
    return Harness()


async def test_create_starts_at_version_one_with_its_event(h: Harness) -> None:
    task = await h.create(tags=["a", "a", "b"])
    assert task.version == 1
    assert task.tags == ["a", "b"]
    [event] = h.events(task.id)
    assert (event["type"], event["version"]) == ("taskstream.task.created", 1)
    assert h.notified == [(task.id, event)]
    assert h.stats.forgotten == [OWNER]


async def test_merge_patch_changes_fields_and_adds_one_version_and_event(h: Harness) -> None:
    due = datetime(2030, 1, 2, tzinfo=UTC)
    task = await h.create(description="d", due_date=due.isoformat(), tags=["x"])
    patch = {"status": "done", "due_date": None, "tags": None, "title": "new"}
    updated = await h.service.update_task(
        owner_id=OWNER, task_id=task.id, patch=patch, expected_etags=None
    )
    assert (updated.title, updated.status, updated.due_date, updated.tags) == (
        "new",
        "done",
        None,
        [],
    )
    assert updated.description == "d"
    assert updated.version == 2
    assert [event["version"] for event in h.events(task.id)] == [1, 2]
    assert await h.service.get_task(owner_id=OWNER, task_id=task.id) == updated


async def test_a_patch_that_changes_nothing_writes_nothing(h: Harness) -> None:
    task = await h.create()
    same = await h.service.update_task(
        owner_id=OWNER, task_id=task.id, patch={"title": task.title}, expected_etags=None
    )
    assert same.version == 1
    assert len(h.events(task.id)) == 1


async def test_if_match_with_a_stale_etag_is_refused(h: Harness) -> None:
    task = await h.create()
    first = frozenset({etag_of(task.id, 1)})
    await h.service.update_task(
        owner_id=OWNER, task_id=task.id, patch={"title": "one"}, expected_etags=first
    )
    with pytest.raises(VersionMismatch):
        await h.service.update_task(
            owner_id=OWNER, task_id=task.id, patch={"title": "two"}, expected_etags=first
        )
    with pytest.raises(VersionMismatch):
        await h.service.delete_task(owner_id=OWNER, task_id=task.id, expected_etags=first)
    current = frozenset({etag_of(task.id, 2)})
    await h.service.delete_task(owner_id=OWNER, task_id=task.id, expected_etags=current)


async def test_a_conditional_write_that_loses_the_race_is_412_and_theirs_stands(
    h: Harness,
) -> None:
    task = await h.create()
    h.another_writer(task.id)
    with pytest.raises(VersionMismatch):
        await h.service.update_task(
            owner_id=OWNER,
            task_id=task.id,
            patch={"title": "mine"},
            expected_etags=frozenset({etag_of(task.id, 1)}),
        )
    doc = h.store.docs[task.id]
    assert (doc["title"], doc["version"]) == ("theirs 2", 2)
    assert len(h.events(task.id)) == 1  # the other writer's event is its own business


@pytest.mark.parametrize("etags", [None, frozenset({"*"})])
async def test_an_unconditional_write_that_loses_retries_on_the_new_version(
    h: Harness, etags: frozenset[str] | None
) -> None:
    task = await h.create()
    h.another_writer(task.id, times=2)
    updated = await h.service.update_task(
        owner_id=OWNER, task_id=task.id, patch={"status": "done"}, expected_etags=etags
    )
    # Applied on top of the other writer's change, as the version after theirs.
    assert (updated.title, updated.status, updated.version) == ("theirs 3", "done", 4)
    assert [event["version"] for event in h.events(task.id)] == [1, 4]


async def test_endless_contention_gives_up_with_a_conflict(h: Harness) -> None:
    task = await h.create()
    h.another_writer(task.id, times=UPDATE_ATTEMPTS)
    with pytest.raises(ConcurrentUpdate):
        await h.service.update_task(
            owner_id=OWNER, task_id=task.id, patch={"title": "mine"}, expected_etags=None
        )
    h.another_writer(task.id, times=UPDATE_ATTEMPTS)
    with pytest.raises(ConcurrentUpdate):
        await h.service.delete_task(owner_id=OWNER, task_id=task.id, expected_etags=None)


async def test_delete_leaves_a_tombstone_with_its_event_and_hides_the_task(h: Harness) -> None:
    task = await h.create()
    await h.service.delete_task(owner_id=OWNER, task_id=task.id, expected_etags=None)
    assert [event["type"] for event in h.events(task.id)][-1] == "taskstream.task.deleted"
    assert h.events(task.id)[-1]["version"] == 2
    with pytest.raises(TaskNotFound):
        await h.service.get_task(owner_id=OWNER, task_id=task.id)
    with pytest.raises(TaskNotFound):
        await h.service.update_task(
            owner_id=OWNER, task_id=task.id, patch={"title": "x"}, expected_etags=None
        )


async def test_another_users_task_is_not_found(h: Harness) -> None:
    task = await h.create()
    with pytest.raises(TaskNotFound):
        await h.service.get_task(owner_id="someone-else", task_id=task.id)
    with pytest.raises(TaskNotFound):
        await h.service.delete_task(owner_id="someone-else", task_id=task.id, expected_etags=None)


async def test_keyset_pages_cover_every_match_once_in_order(h: Harness) -> None:
    for n in range(7):
        await h.create(
            f"t{n}", priority=["low", "high"][n % 2], status="done" if n == 3 else "todo"
        )
    query = {"sort": "priority", "limit": 2, "status": "todo"}
    seen: list[Task] = []
    cursor = None
    while True:
        page = await h.service.list_tasks(
            owner_id=OWNER, query=ListQuery.model_validate({**query, "cursor": cursor})
        )
        assert isinstance(page, TaskList)
        seen += page.items
        if (cursor := page.next_cursor) is None:
            break
    assert len(seen) == 6
    assert [t.priority for t in seen] == ["low"] * 4 + ["high"] * 2
    other = ListQuery.model_validate({"sort": "-priority", "cursor": "abc.def"})
    with pytest.raises(InvalidCursor):
        await h.service.list_tasks(owner_id=OWNER, query=other)


async def test_numbered_pages_give_the_total(h: Harness) -> None:
    for n in range(5):
        await h.create(f"t{n}")
    page = await h.service.list_tasks(
        owner_id=OWNER, query=ListQuery.model_validate({"page": 2, "limit": 2})
    )
    assert isinstance(page, TaskPage)
    assert (page.total, len(page.items), page.page) == (5, 2, 2)
    both = ListQuery.model_validate({"page": 1, "cursor": "x"})
    with pytest.raises(ConflictingPaging):
        await h.service.list_tasks(owner_id=OWNER, query=both)


async def test_stats_count_live_tasks_by_status_and_overdue(h: Harness) -> None:
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    await h.create("a", due_date=past)
    await h.create("b", due_date=past, status="done")
    gone = await h.create("c", status="in_progress")
    await h.service.delete_task(owner_id=OWNER, task_id=gone.id, expected_etags=None)
    stats = await h.service.task_stats(owner_id=OWNER)
    assert (stats.total, stats.by_status.todo, stats.by_status.done, stats.overdue) == (2, 1, 1, 1)
    assert stats.by_status.in_progress == 0
