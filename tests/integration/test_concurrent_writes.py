"""Conditional writes across replicas: two tasks and two auth replicas behind one gateway.

Every write of a task is a compare-and-set on ``version`` in the database, so whichever
replica serves a request: one winner per version, the other conditional writes 412,
unconditional writes all applied one after another, versions gap-free, one event per version.
Refresh-token rotation is one atomic ``findAndModify``: of concurrent refreshes, one wins.
"""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pymongo import AsyncMongoClient

from deploy.local.services import ServiceProcess
from services.tasks.app.documents import now_utc
from services.tasks.app.main import COLLECTION
from services.tasks.app.mongo_store import Capabilities, MongoTaskStore
from shared.events import TaskCloudEvent
from tests.integration.harness import System
from tests.support.accounts import Account, bearer, new_account, oauth_password_grant, register
from tests.support.processes import retire
from tests.support.secrets import remember
from tests.support.tasks import create_task, events_of, task_events

pytestmark = pytest.mark.integration
WRITERS = 8
TRIALS = 10
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture(scope="module")
async def gateway(system: System) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway over two tasks and two auth replicas (the session's first ones and one more)."""
    extra = [system.add("tasks"), system.add("auth")]
    front = system.add("gateway", extra_env=system.gateway_env())
    try:
        async with httpx.AsyncClient(base_url=front.url, timeout=30) as client:
            yield client
    finally:
        retire(system, *extra, front)


async def served(replica: ServiceProcess, method: str) -> float:
    """Requests with ``method`` this replica answered, from its own metrics."""
    async with httpx.AsyncClient(base_url=replica.url, timeout=10) as client:
        text = (await client.get("/metrics")).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "http_requests_total" and sample.labels.get("method") == method
    )


async def patch(
    client: httpx.AsyncClient, account: Account, task_id: str, body: object, **headers: str
) -> httpx.Response:
    return await client.patch(
        f"/api/v1/tasks/{task_id}", json=body, headers={**account.headers, **MERGE_PATCH, **headers}
    )


async def versions_published(system: System, task_id: str, last: int) -> list[TaskCloudEvent]:
    """Every event of the task, once ``last`` is on the topic (delivery is at least once)."""

    def complete(records: list[Any]) -> bool:
        return any(event.data.version == last for event in events_of(records, {task_id}))

    return events_of(await task_events(system, until=complete, within=30), {task_id})


def assert_one_event_per_version(events: list[TaskCloudEvent], last: int) -> None:
    """Versions 1..last, gap-free; a redelivery repeats the very same event, never another."""
    by_version: dict[int, set[str]] = {}
    for event in events:
        by_version.setdefault(event.data.version, set()).add(event.id)
    assert sorted(by_version) == list(range(1, last + 1))
    assert all(len(ids) == 1 for ids in by_version.values()), by_version


async def test_concurrent_conditional_patches_have_one_winner_per_version(
    gateway: httpx.AsyncClient, system: System
) -> None:
    before = [await served(proc, "PATCH") for proc in system.processes["tasks"]]
    account = await new_account(gateway)
    task = await create_task(gateway, account)
    etag, statuses = f'"{task["id"]}-v1"', Counter[int]()
    for trial in range(TRIALS):
        responses = await asyncio.gather(
            *(
                patch(
                    gateway, account, task["id"], {"title": f"t{trial} w{n}"}, **{"If-Match": etag}
                )
                for n in range(WRITERS)
            )
        )
        codes = Counter(response.status_code for response in responses)
        assert codes == {200: 1, 412: WRITERS - 1}, codes
        statuses.update(codes)
        [winner] = [response for response in responses if response.status_code == 200]
        etag = winner.headers["ETag"]
    got = await gateway.get(f"/api/v1/tasks/{task['id']}", headers=account.headers)
    assert got.json()["version"] == 1 + TRIALS
    assert_one_event_per_version(
        await versions_published(system, task["id"], 1 + TRIALS), 1 + TRIALS
    )
    after = [await served(proc, "PATCH") for proc in system.processes["tasks"]]
    # Both replicas took part: the race really was between processes.
    assert all(a > b for a, b in zip(after, before, strict=True)), (before, after)


async def test_concurrent_unconditional_patches_are_all_applied_in_some_order(
    gateway: httpx.AsyncClient, system: System
) -> None:
    account = await new_account(gateway)
    task = await create_task(gateway, account)
    titles = {f"writer {n}" for n in range(WRITERS)}
    responses = await asyncio.gather(
        *(patch(gateway, account, task["id"], {"title": title}) for title in titles)
    )
    assert [response.status_code for response in responses] == [200] * WRITERS
    # Each answer is the version its own change made: all different, 2..WRITERS+1.
    assert sorted(response.json()["version"] for response in responses) == list(
        range(2, WRITERS + 2)
    )
    events = await versions_published(system, task["id"], WRITERS + 1)
    assert_one_event_per_version(events, WRITERS + 1)
    assert {event.data.title for event in events if event.data.version > 1} == titles


async def test_concurrent_delete_and_patch_one_wins_and_nothing_follows_the_delete(
    gateway: httpx.AsyncClient, system: System
) -> None:
    account = await new_account(gateway)
    for _ in range(TRIALS // 2):
        task = await create_task(gateway, account)
        etag = {"If-Match": f'"{task["id"]}-v1"'}
        url = f"/api/v1/tasks/{task['id']}"
        deleted, patched = await asyncio.gather(
            gateway.delete(url, headers={**account.headers, **etag}),
            patch(gateway, account, task["id"], {"status": "done"}, **etag),
        )
        # The loser is 412, or 404 when it read the task only after the delete had won.
        outcome = sorted([deleted.status_code, patched.status_code])
        assert outcome in ([200, 412], [204, 412], [204, 404]), outcome
    task = await create_task(gateway, account)
    url = f"/api/v1/tasks/{task['id']}"
    outcomes = await asyncio.gather(
        gateway.delete(url, headers=account.headers),
        *(patch(gateway, account, task["id"], {"title": f"p{n}"}) for n in range(4)),
    )
    assert outcomes[0].status_code == 204
    assert {response.status_code for response in outcomes[1:]} <= {200, 404}
    last = 2 + sum(response.status_code == 200 for response in outcomes[1:])
    events = await versions_published(system, task["id"], last)
    assert_one_event_per_version(events, last)
    assert max(events, key=lambda event: event.data.version).type == "taskstream.task.deleted"


async def test_the_store_compare_and_set_has_one_winner_on_the_database(system: System) -> None:
    """The adapter's conditional write itself, many racing on one version, straight on the DB."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(system.env["MONGODB_URL"])
    try:
        database = client.get_default_database()
        store = MongoTaskStore(database[COLLECTION], await Capabilities.of(database))
        for trial in range(TRIALS):
            task_id = f"cas-{trial}-{now_utc().timestamp()}"
            await store.insert(
                {"_id": task_id, "version": 1, "deleted": False, "pending_events": []}
            )
            event = {"version": 2, "at": now_utc()}
            wins = await asyncio.gather(
                *(
                    store.write_if_version(
                        task_id, version=1, changes={"version": 2, "w": n}, event=event
                    )
                    for n in range(WRITERS)
                )
            )
            assert sum(wins) == 1
            stored = await store.get(task_id)
            assert stored is not None
            assert len(stored["pending_events"]) == 1
            await database[COLLECTION].delete_one({"_id": task_id})
    finally:
        await client.close()


async def test_concurrent_refreshes_of_one_token_across_auth_replicas_have_one_winner(
    gateway: httpx.AsyncClient, system: System
) -> None:
    before = [await served(proc, "POST") for proc in system.processes["auth"]]
    email, password, _ = await register(gateway)
    for _ in range(TRIALS):
        _, refresh_token = await oauth_password_grant(gateway, email, password)
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        responses = await asyncio.gather(
            *(gateway.post("/api/v1/auth/token", data=form) for _ in range(WRITERS))
        )
        winners = [response for response in responses if response.status_code == 200]
        assert len(winners) == 1, [response.status_code for response in responses]
        assert {response.status_code for response in responses} == {200, 400}
        remember(winners[0].json()["refresh_token"], winners[0].json()["access_token"])
        # The race was harmless (inside the grace window): the winner's session lives on.
        me = await gateway.get("/api/v1/auth/me", headers=bearer(winners[0].json()["access_token"]))
        assert me.status_code == 200
    after = [await served(proc, "POST") for proc in system.processes["auth"]]
    assert all(a > b for a, b in zip(after, before, strict=True)), (before, after)


async def test_logout_racing_a_refresh_on_another_replica_always_ends_the_session(
    gateway: httpx.AsyncClient,
) -> None:
    """Revocation and rotation update the same session document: neither may undo the other."""
    email, password, _ = await register(gateway)
    for _ in range(TRIALS):
        access, refresh_token = await oauth_password_grant(gateway, email, password)
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        _, rotated = await asyncio.gather(
            gateway.post("/api/v1/auth/logout", headers=bearer(access)),
            gateway.post("/api/v1/auth/token", data=form),
        )
        if rotated.status_code == 200:
            remember(rotated.json()["refresh_token"], rotated.json()["access_token"])
            again = {
                "grant_type": "refresh_token",
                "refresh_token": rotated.json()["refresh_token"],
            }
            assert (await gateway.post("/api/v1/auth/token", data=again)).status_code == 400
