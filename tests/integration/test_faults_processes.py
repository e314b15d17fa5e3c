"""Faults in the services: search, tasks or one replica die (SIGKILL) while in use.

Every test brings back or retires what it killed, and counts what must survive.
"""

import asyncio
from collections.abc import Callable

import httpx
import pytest

from tests.integration.harness import System
from tests.support.accounts import Account, new_account
from tests.support.polling import Observation, eventually
from tests.support.processes import retire
from tests.support.tasks import create_task
from tests.support.write_stream import (
    RECOVERY_S,
    WriteStream,
    all_finished_and_searchable,
    in_thread,
    topic_versions,
    while_writing,
)

pytestmark = [pytest.mark.integration, pytest.mark.faults]


async def test_search_killed_mid_stream_rebuilds_without_duplicates(
    stream: WriteStream, system: System
) -> None:
    search = system.one("search")

    async def crash_search() -> None:
        await in_thread(search.kill)
        await in_thread(search.start)
        await in_thread(search.wait_ready)

    try:
        await while_writing(stream, crash_search)
    finally:
        if not search.alive():
            search.start()
            search.wait_ready()
    assert stream.failures == []
    await all_finished_and_searchable(stream, within=RECOVERY_S)
    response = await stream.client.get(
        "/api/v1/search", params={"q": stream.word, "limit": 100}, headers=stream.account.headers
    )
    ids = [item["task"]["id"] for item in response.json()["items"]]
    assert len(ids) == len(set(ids)) == min(100, len(stream.acknowledged))


async def test_tasks_killed_between_write_and_publish_still_delivers(system: System) -> None:
    # A replica whose relay waits 30 s: every write below is acknowledged and unpublished
    # when the process dies, so only the outbox can bring its events to Kafka.
    delayed = system.add("tasks", extra_env={"TASKS_RELAY_START_DELAY_SECONDS": "30"})
    gateway = system.add(
        "gateway", extra_env={**system.gateway_env(), "GATEWAY_TASKS_URLS": delayed.url}
    )
    try:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
            account = await new_account(client)
            written = [await create_task(client, account, title=f"crash {n}") for n in range(20)]
            delayed.kill()
    finally:
        retire(system, delayed, gateway)
    want = {(task["id"], 1) for task in written}
    seen = await topic_versions(system, within=RECOVERY_S, want=want)
    assert want - seen == set(), f"{len(want - seen)} of {len(want)} events never published"


async def test_one_of_two_task_replicas_dies_under_load(system: System) -> None:
    replica = system.add("tasks")
    gateway = system.add("gateway", extra_env=system.gateway_env())
    try:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
            account = await new_account(client)
            task = await create_task(client, account, title="replicated")
            outcome = await load_while(client, account, task["id"], fault=replica.kill)
    finally:
        retire(system, replica, gateway)
    reads, read_failures, writes, write_failures = outcome
    assert reads > 50
    assert read_failures == []
    # Only writes in flight at the moment of the crash may fail; there are at most 2 writers.
    assert len(write_failures) <= 2, write_failures
    assert writes > 10


async def load_while(
    client: httpx.AsyncClient, account: Account, task_id: str, *, fault: Callable[[], None]
) -> tuple[int, list[str], int, list[str]]:
    stop = asyncio.Event()
    counts = {"GET": 0, "POST": 0}
    failures: dict[str, list[str]] = {"GET": [], "POST": []}

    async def worker(method: str) -> None:
        path = f"/api/v1/tasks/{task_id}" if method == "GET" else "/api/v1/tasks"
        body = {"title": "load"} if method == "POST" else None
        while not stop.is_set():
            try:
                response = await client.request(method, path, json=body, headers=account.headers)
            except httpx.HTTPError as exc:
                failures[method].append(type(exc).__name__)
                continue
            counts[method] += 1
            if response.status_code >= 400:
                failures[method].append(f"{response.status_code} {response.text[:200]}")

    async def served(floor: dict[str, int]) -> Observation:
        return all(counts[m] >= n for m, n in floor.items()), {"counts": counts, **failures}

    workers = [asyncio.create_task(worker(m)) for m in ("GET",) * 6 + ("POST",) * 2]
    try:
        # Load before the fault and after it, waited for rather than slept on.
        await eventually(lambda: served({"GET": 10, "POST": 3}), within=RECOVERY_S)
        await in_thread(fault)
        after = {"GET": max(51, counts["GET"] + 20), "POST": max(11, counts["POST"] + 5)}
        await eventually(lambda: served(after), within=RECOVERY_S)
    finally:
        stop.set()
        await asyncio.gather(*workers)
    return counts["GET"], failures["GET"], counts["POST"], failures["POST"]
