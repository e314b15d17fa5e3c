"""The tasks service against the real FerretDB, Kafka and Redis, called straight on its port.

Each test acts as a fresh user whose identity it signs the way the gateway does, so these
tests exercise the service alone; the end-to-end tests go through the gateway.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.events import decode_event
from tests.integration.harness import System
from tests.support.problems import assert_problem
from tests.support.tasks import TASKS, TasksUser, events_of, task_events

pytestmark = pytest.mark.integration
EVENT_WAIT_S = 30.0


@pytest.fixture
async def client(system: System) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=system.one("tasks").url, timeout=30) as http:
        yield http


@pytest.fixture
def user(system: System, client: httpx.AsyncClient) -> TasksUser:
    return TasksUser(system, client)


@pytest.fixture
def other_user(system: System, client: httpx.AsyncClient) -> TasksUser:
    return TasksUser(system, client)


async def test_create_answers_201_with_location_and_etag(user: TasksUser) -> None:
    response = await user.call(
        "POST",
        TASKS,
        json={"title": "Write", "tags": ["a", "b"], "due_date": "2031-01-02T03:04:05.678+02:00"},
    )
    assert response.status_code == 201, response.text
    task = response.json()
    assert response.headers["location"] == f"{TASKS}/{task['id']}"
    assert response.headers["etag"] == f'"{task["id"]}-v1"'
    assert task["version"] == 1
    assert task["status"] == "todo"
    assert task["priority"] == "medium"
    assert task["due_date"] == "2031-01-02T01:04:05.678000Z"
    assert set(task) == {
        "id", "title", "description", "status", "priority", "tags",
        "due_date", "created_at", "updated_at", "version",
    }  # fmt: skip
    fetched = await user.call("GET", response.headers["location"])
    assert fetched.json() == task
    assert fetched.headers["etag"] == response.headers["etag"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"title": ""},
        {"title": "   "},
        {"title": "x" * 201},
        {"title": "x", "description": "d" * 10_001},
        {"title": "x", "status": "blocked"},
        {"title": "x", "priority": "urgent"},
        {"title": "x", "tags": [f"t{n}" for n in range(21)]},
        {"title": "x", "tags": ["t" * 33]},
        {"title": "x", "tags": [""]},
        {"title": "x", "tags": "not-a-list"},
        {"title": "x", "due_date": 1_700_000_000},
        {"title": "x", "due_date": "2030-01-01T00:00:00"},
        {"title": "x", "due_date": "tomorrow"},
        {"title": {"$ne": None}},
        {"title": "x", "status": {"$ne": "done"}},
        {"title": "x", "tags": [{"$gt": ""}]},
        {"title": "x", "id": "mine"},
        {"title": "x", "owner_id": "someone"},
        {"title": "x", "version": 7},
        {"title": "x", "$set": {"owner_id": "someone"}},
        [],
    ],
)
async def test_bad_bodies_are_422_and_create_nothing(user: TasksUser, body: object) -> None:
    response = await user.call("POST", TASKS, json=body)
    problem = assert_problem(response, 422)
    assert problem["errors"], problem
    listed = await user.list()
    assert listed.json()["items"] == []


@pytest.mark.parametrize(
    "raw",
    [
        b'{"title": "\\ud800"}',
        b'{"title": "x", "due_date": "0001-01-01T00:00:00+01:00"}',
        b'{"title": "x", "tags": ["a"]',
        b"\xff\xfe",
    ],
)
async def test_bodies_storage_cannot_hold_are_422_not_500(user: TasksUser, raw: bytes) -> None:
    headers = {"Content-Type": "application/json"}
    assert_problem(await user.call("POST", TASKS, content=raw, headers=headers), 422)


@pytest.mark.parametrize(
    "params",
    [
        {"status[$ne]": "done"},
        {"status": "done", "tag[$regex]": ".*"},
        {"$where": "1"},
        {"status": "nope"},
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "ten"},
        {"sort": "title"},
        {"page": "0"},
        {"due_before": "yesterday"},
        {"tag": "t" * 33},
    ],
)
async def test_bad_query_strings_are_422(user: TasksUser, params: dict[str, str]) -> None:
    assert_problem(await user.list(**params), 422)


async def test_another_users_task_is_404_for_every_method(
    user: TasksUser, other_user: TasksUser
) -> None:
    task = await user.create(title="private")
    path = f"{TASKS}/{task['id']}"
    assert_problem(await other_user.call("GET", path), 404)
    assert_problem(await other_user.patch(task["id"], {"title": "mine now"}), 404)
    assert_problem(await other_user.call("DELETE", path), 404)
    assert (await other_user.list()).json()["items"] == []
    unchanged = await user.call("GET", path)
    assert unchanged.json() == task


async def test_unknown_and_malformed_ids_are_404(user: TasksUser) -> None:
    for task_id in (str(uuid.uuid4()), "not-an-id", "$ne", "x" * 300):
        assert_problem(await user.call("GET", f"{TASKS}/{task_id}"), 404)


async def test_requests_without_a_valid_identity_are_401(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(TASKS), 401)
    forged = {"X-Taskstream-Identity": "eyJ1c2VyX2lkIjoieCJ9.bm90LWEtbWFj"}
    assert_problem(await client.post(TASKS, json={"title": "x"}, headers=forged), 401)


async def test_if_none_match_gives_304_until_the_task_changes(user: TasksUser) -> None:
    task = await user.create()
    path = f"{TASKS}/{task['id']}"
    etag = f'"{task["id"]}-v1"'
    not_modified = await user.call("GET", path, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified.headers["etag"] == etag
    assert (await user.call("GET", path, headers={"If-None-Match": "W/" + etag})).status_code == 304
    assert (await user.patch(task["id"], {"title": "changed"})).status_code == 200
    modified = await user.call("GET", path, headers={"If-None-Match": etag})
    assert modified.status_code == 200
    assert modified.headers["etag"] == f'"{task["id"]}-v2"'


async def test_if_match_with_a_stale_etag_is_412_and_changes_nothing(user: TasksUser) -> None:
    task = await user.create(title="v1")
    stale = f'"{task["id"]}-v1"'
    assert (await user.patch(task["id"], {"title": "v2"}, **{"If-Match": stale})).status_code == 200
    assert_problem(await user.patch(task["id"], {"title": "v3"}, **{"If-Match": stale}), 412)
    path = f"{TASKS}/{task['id']}"
    assert_problem(await user.call("DELETE", path, headers={"If-Match": stale}), 412)
    current = await user.call("GET", path)
    assert current.json()["title"] == "v2"
    assert current.json()["version"] == 2
    fresh = current.headers["etag"]
    assert (await user.call("DELETE", path, headers={"If-Match": fresh})).status_code == 204
    assert_problem(await user.call("GET", path), 404)


async def test_merge_patch_sets_clears_and_counts_versions(user: TasksUser) -> None:
    task = await user.create(
        title="t", description="d", tags=["x"], due_date="2030-05-01T00:00:00Z"
    )
    response = await user.patch(
        task["id"], {"due_date": None, "tags": None, "status": "in_progress"}
    )
    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched["due_date"] is None
    assert patched["tags"] == []
    assert patched["status"] == "in_progress"
    assert patched["description"] == "d"
    assert patched["version"] == 2
    assert patched["updated_at"] > task["updated_at"]
    assert patched["created_at"] == task["created_at"]
    same = await user.patch(task["id"], {"status": "in_progress"})
    assert same.json()["version"] == 2, "a patch that changes nothing is not a new version"
    as_json = await user.call(
        "PATCH", f"{TASKS}/{task['id']}", json={"priority": "high"}, headers={}
    )
    assert as_json.status_code == 200
    assert as_json.json()["version"] == 3


@pytest.mark.parametrize(
    "patch",
    [
        {"id": "other"},
        {"owner_id": "someone"},
        {"version": 99},
        {"created_at": "2020-01-01T00:00:00Z"},
        {"title": None},
        {"status": None},
        {"title": ""},
        {"status": {"$set": "done"}},
        {"tags": ["ok", {"$ne": 1}]},
        {"due_date": 5},
        ["title", "x"],
        "title",
    ],
)
async def test_bad_merge_patches_are_422_and_change_nothing(user: TasksUser, patch: object) -> None:
    task = await user.create(title="keep")
    assert_problem(await user.patch(task["id"], patch), 422)
    current = await user.call("GET", f"{TASKS}/{task['id']}")
    assert current.json() == task


async def test_patch_media_type_and_json_syntax(user: TasksUser) -> None:
    task = await user.create()
    path = f"{TASKS}/{task['id']}"
    plain = await user.call(
        "PATCH", path, content=b'{"title":"x"}', headers={"Content-Type": "text/plain"}
    )
    assert_problem(plain, 415)
    broken = await user.call(
        "PATCH",
        path,
        content=b'{"title": ',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert_problem(broken, 422)


async def test_keyset_pages_are_stable_while_tasks_are_added(user: TasksUser) -> None:
    originals = {(await user.create(title=f"old {n}"))["id"] for n in range(23)}
    seen: list[str] = []
    cursor: str | None = None
    added = 0
    while True:
        params = {"limit": 5, **({"cursor": cursor} if cursor else {})}
        page = (await user.list(**params)).json()
        seen.extend(item["id"] for item in page["items"])
        # Newer tasks land before the first page of -created_at; none may leak into later pages.
        await asyncio.gather(*(user.create(title=f"new {added + n}") for n in range(3)))
        added += 3
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 23
    assert set(seen) == originals


async def test_sorts_order_priority_by_rank_and_due_dates(user: TasksUser) -> None:
    base = datetime(2030, 1, 1, tzinfo=UTC)
    for n, priority in enumerate(["medium", "low", "high", "low", "high"]):
        due = (base + timedelta(days=5 - n)).isoformat()
        await user.create(title=f"p{n}", priority=priority, due_date=due)
    await user.create(title="undated", priority="medium")
    by_rank = [t["priority"] for t in (await user.list(sort="-priority")).json()["items"]]
    assert by_rank == ["high", "high", "medium", "medium", "low", "low"]
    ascending = [t["priority"] for t in (await user.list(sort="priority")).json()["items"]]
    assert ascending == by_rank[::-1]
    by_due = [t["title"] for t in (await user.list(sort="due_date")).json()["items"]]
    assert by_due == ["p4", "p3", "p2", "p1", "p0", "undated"]
    created = [t["title"] for t in (await user.list(sort="created_at")).json()["items"]]
    assert created == ["p0", "p1", "p2", "p3", "p4", "undated"]


async def test_keyset_paging_by_priority_visits_every_task_once(user: TasksUser) -> None:
    for n in range(11):
        await user.create(title=f"t{n}", priority=["low", "medium", "high"][n % 3])
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": 4, "sort": "-priority", **({"cursor": cursor} if cursor else {})}
        page = (await user.list(**params)).json()
        seen.extend(page["items"])
        if (cursor := page["next_cursor"]) is None:
            break
    assert len({t["id"] for t in seen}) == 11
    ranks = [{"high": 2, "medium": 1, "low": 0}[t["priority"]] for t in seen]
    assert ranks == sorted(ranks, reverse=True)


async def test_filters_combine(user: TasksUser) -> None:
    await user.create(title="a", status="done", tags=["home"], due_date="2030-01-01T00:00:00Z")
    await user.create(title="b", status="todo", tags=["home", "work"], priority="high")
    await user.create(title="c", status="todo", tags=["work"], due_date="2031-01-01T00:00:00Z")

    async def titles(**params: str) -> list[str]:
        response = await user.list(sort="created_at", **params)
        assert response.status_code == 200, response.text
        return [t["title"] for t in response.json()["items"]]

    assert await titles(status="todo") == ["b", "c"]
    assert await titles(tag="home") == ["a", "b"]
    assert await titles(tag="work", status="todo") == ["b", "c"]
    assert await titles(priority="high") == ["b"]
    assert await titles(due_before="2030-06-01T00:00:00Z") == ["a"]
    assert await titles(due_after="2030-06-01T00:00:00+00:00") == ["c"]
    assert await titles(tag="nothing") == []


async def test_page_mode_reports_the_total(user: TasksUser) -> None:
    for n in range(7):
        await user.create(title=f"t{n}", status="done" if n % 2 else "todo")
    first = (await user.list(page=1, limit=3, sort="created_at")).json()
    assert first["total"] == 7
    assert first["page"] == 1
    assert first["limit"] == 3
    assert [t["title"] for t in first["items"]] == ["t0", "t1", "t2"]
    last = (await user.list(page=3, limit=3, sort="created_at")).json()
    assert [t["title"] for t in last["items"]] == ["t6"]
    done = (await user.list(page=1, status="done")).json()
    assert done["total"] == 3
    assert_problem(await user.list(page=1, cursor="abc"), 400)


async def test_bad_cursors_are_400(user: TasksUser, other_user: TasksUser) -> None:
    for n in range(3):
        await user.create(title=f"t{n}")
    cursor = (await user.list(limit=1)).json()["next_cursor"]
    assert cursor
    payload, mac = cursor.split(".")
    for bad in ("garbage", f"{payload}x.{mac}", f"{payload}.{mac[::-1]}", cursor + "=="):
        assert_problem(await user.list(limit=1, cursor=bad), 400)
    # Valid, but made for another query or another user.
    assert_problem(await user.list(limit=1, cursor=cursor, status="todo"), 400)
    assert_problem(await user.list(limit=1, cursor=cursor, sort="-priority"), 400)
    assert_problem(await other_user.list(limit=1, cursor=cursor), 400)
    assert (await user.list(limit=1, cursor=cursor)).status_code == 200


async def test_stats_count_and_follow_writes(user: TasksUser) -> None:
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    first = await user.create(title="late", due_date=past)
    await user.create(title="done late", due_date=past, status="done")
    await user.create(title="doing", status="in_progress")
    stats = await user.call("GET", f"{TASKS}/stats")
    assert stats.status_code == 200, stats.text
    assert stats.json() == {
        "total": 3,
        "by_status": {"todo": 1, "in_progress": 1, "done": 1},
        "overdue": 1,
    }
    await user.patch(first["id"], {"status": "done"})
    after = (await user.call("GET", f"{TASKS}/stats")).json()
    assert after["by_status"] == {"todo": 0, "in_progress": 1, "done": 2}
    assert after["overdue"] == 0
    await user.call("DELETE", f"{TASKS}/{first['id']}")
    assert (await user.call("GET", f"{TASKS}/stats")).json()["total"] == 2


async def test_each_change_publishes_one_well_formed_event_in_order(
    system: System, user: TasksUser
) -> None:
    task = await user.create(title="evented", tags=["k"])
    await user.patch(task["id"], {"status": "done"})
    await user.patch(task["id"], {"title": "renamed"})
    assert (await user.call("DELETE", f"{TASKS}/{task['id']}")).status_code == 204
    ids = {task["id"]}
    records = await task_events(
        system, until=lambda rs: len(events_of(rs, ids)) >= 4, within=EVENT_WAIT_S
    )
    mine = [r for r in records if r.key == task["id"].encode()]
    events = [decode_event(r.value) for r in mine]
    assert [e.data.version for e in events] == [1, 2, 3, 4]
    assert [e.type.value.rsplit(".", 1)[1] for e in events] == [
        "created", "updated", "updated", "deleted",
    ]  # fmt: skip
    assert len({e.id for e in events}) == 4
    for record, event in zip(mine, events, strict=True):
        headers = dict(record.headers)
        assert headers["content-type"] == b"application/cloudevents+json"
        assert headers["traceparent"].startswith(b"00-")
        assert event.subject == task["id"]
        assert event.data.owner_id == user.user_id
        assert event.source == "/taskstream/tasks"
        assert event.specversion == "1.0"
    assert len({r.partition for r in mine}) == 1
    assert events[-1].data.title == "renamed"
    assert events[-1].data.status == "done"


async def test_concurrent_patches_each_get_their_own_version(user: TasksUser) -> None:
    task = await user.create(title="race")
    results = await asyncio.gather(*(user.patch(task["id"], {"title": f"n{n}"}) for n in range(8)))
    assert all(r.status_code == 200 for r in results), [r.text for r in results]
    assert sorted(r.json()["version"] for r in results) == list(range(2, 10))
