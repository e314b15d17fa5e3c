"""Faults: parts of the stack die while the system is in use, and nothing acknowledged is lost.

Every test restarts what it stopped in a ``finally``; each counts what it wrote and asserts the
same count comes out the other side (searchable, or on the topic).
"""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from shared.events import decode_event
from tests.integration.harness import System, stack_command
from tests.integration.secrets_registry import (
    Account,
    Observation,
    create_task,
    eventually,
    gateway_client,
    new_account,
    retire,
    search_total,
    unique_word,
)

pytestmark = [pytest.mark.integration, pytest.mark.faults]
RECOVERY_S = 90.0
DEPENDENCY_DOWN_ANSWER_S = 10.0
# Once events are on the topic, search has this long to index them all.
SEARCH_CATCH_UP_S = 60.0
REDIS_RECOVERY_S = 15.0


@dataclass
class WriteStream:
    """Creates a task and then finishes it, over and over, counting every acknowledgement."""

    client: httpx.AsyncClient
    account: Account
    word: str
    final_word: str
    acknowledged: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    async def write_one(self) -> None:
        created = await self.client.post(
            "/api/v1/tasks", json={"title": f"{self.word} item"}, headers=self.account.headers
        )
        if created.status_code != 201:
            self.failures.append(f"POST {created.status_code} {created.text[:200]}")
            return
        task_id = created.json()["id"]
        finished = await self.client.patch(
            f"/api/v1/tasks/{task_id}",
            json={"status": "done", "description": self.final_word},
            headers=self.account.headers,
        )
        if finished.status_code != 200:
            self.failures.append(f"PATCH {finished.status_code} {finished.text[:200]}")
            return
        self.acknowledged.append(task_id)

    async def run_until(self, stop: asyncio.Event, workers: int = 3) -> None:
        async def worker() -> None:
            while not stop.is_set():
                try:
                    await self.write_one()
                except httpx.HTTPError as exc:
                    self.failures.append(f"{type(exc).__name__}")

        await asyncio.gather(*(worker() for _ in range(workers)))


async def while_writing(stream: WriteStream, fault: Callable[[], Awaitable[None]]) -> None:
    """Run ``fault`` in the middle of a write stream; the stream stops once it is over."""
    stop = asyncio.Event()
    writer = asyncio.create_task(stream.run_until(stop))
    try:
        await asyncio.sleep(1.0)
        await fault()
        await asyncio.sleep(1.0)
    finally:
        stop.set()
        await writer


async def all_finished_and_searchable(stream: WriteStream, *, within: float) -> None:
    expected = len(stream.acknowledged)

    async def complete() -> Observation:
        try:
            finished = await search_total_filtered(stream, stream.final_word, status="done")
            created = await search_total(stream.client, stream.account, stream.word)
        except AssertionError as exc:
            return False, str(exc)
        seen = {"expected": expected, "finished": finished, "created": created}
        return finished == expected and created == expected, seen

    await eventually(complete, within=within, interval=0.5)


async def search_total_filtered(stream: WriteStream, query: str, **filters: str) -> int:
    response = await stream.client.get(
        "/api/v1/search", params={"q": query, **filters}, headers=stream.account.headers
    )
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


async def in_thread(function: Callable[..., Any], *args: Any) -> None:
    await asyncio.to_thread(function, *args)


@pytest.fixture
async def client(system: System) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway_client(system) as gateway:
        yield gateway


@pytest.fixture
async def stream(client: httpx.AsyncClient) -> WriteStream:
    account = await new_account(client)
    # One request before the concurrent stream, so a cold gateway's first JWKS fetch is not
    # part of this measurement (test_e2e.py covers that race on its own).
    assert (await client.get("/api/v1/tasks", headers=account.headers)).status_code == 200
    return WriteStream(client, account, unique_word(), unique_word("fin"))


async def test_kafka_outage_loses_no_acknowledged_write(
    stream: WriteStream, system: System
) -> None:
    async def kafka_outage() -> None:
        await in_thread(stack_command, "down", "kafka")
        try:
            await asyncio.sleep(5.0)
        finally:
            await in_thread(stack_command, "up", "kafka")

    await while_writing(stream, kafka_outage)
    assert stream.failures == []
    assert len(stream.acknowledged) >= 10
    await assert_all_published(system, stream)
    await all_finished_and_searchable(stream, within=SEARCH_CATCH_UP_S)


async def assert_all_published(system: System, stream: WriteStream) -> None:
    """Each acknowledged task's last write (version 2) is on the topic."""
    want = {(task_id, 2) for task_id in stream.acknowledged}
    seen = await topic_versions(system, within=RECOVERY_S, want=want)
    assert want - seen == set(), f"{len(want - seen)} of {len(want)} final events not published"


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


async def topic_versions(
    system: System, *, within: float, want: set[tuple[str, int]]
) -> set[tuple[str, int]]:
    """Read the events topic from the start until ``want`` is all there or time is up."""
    consumer = AIOKafkaConsumer(
        system.env["KAFKA_TASK_EVENTS_TOPIC"],
        bootstrap_servers=system.env["KAFKA_BOOTSTRAP_SERVERS"],
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    seen: set[tuple[str, int]] = set()
    await consumer.start()
    try:
        deadline = time.monotonic() + within
        while not want <= seen and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    event = decode_event(record.value)
                    seen.add((event.subject, event.data.version))
    finally:
        await consumer.stop()
    return seen


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


async def test_redis_outage_keeps_serving_and_keeps_seen_revocations(
    client: httpx.AsyncClient,
) -> None:
    active = await new_account(client)
    task = await create_task(client, active, title="during redis outage")
    leaver = await new_account(client)
    assert (await client.post("/api/v1/auth/logout", headers=leaver.headers)).status_code == 204
    assert (await client.get("/api/v1/tasks", headers=leaver.headers)).status_code == 401
    await in_thread(stack_command, "down", "redis")
    try:
        refused = await client.get("/api/v1/tasks", headers=leaver.headers)
        served = await client.get(f"/api/v1/tasks/{task['id']}", headers=active.headers)
    finally:
        await redis_back(client, active)
    assert refused.status_code == 401, refused.text
    assert served.status_code == 200, served.text


async def redis_back(client: httpx.AsyncClient, account: Account) -> None:
    """Restart Redis and wait until logging in (auth's throttle lives in Redis) works again."""
    await in_thread(stack_command, "up", "redis")

    async def logs_in() -> Observation:
        credentials = {"email": account.email, "password": account.password}
        response = await client.post("/api/v1/auth/login", json=credentials)
        return response.status_code == 200, response.text[:300]

    await eventually(logs_in, within=REDIS_RECOVERY_S, interval=0.5)


async def test_redis_outage_refuses_a_token_revoked_before_it(client: httpx.AsyncClient) -> None:
    # Revoked before the outage but never shown to the gateway since: only Redis knows.
    leaver = await new_account(client)
    bystander = await new_account(client)
    assert (await client.post("/api/v1/auth/logout", headers=leaver.headers)).status_code == 204
    await in_thread(stack_command, "down", "redis")
    try:
        response = await client.get("/api/v1/tasks", headers=leaver.headers)
    finally:
        await redis_back(client, bystander)
    assert response.status_code in (401, 503), response.text


async def timed(request: Awaitable[httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await request
    return response, time.monotonic() - started


def assert_quick_503(response: httpx.Response, seconds: float) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert seconds < DEPENDENCY_DOWN_ANSWER_S
    assert "pymongo" not in response.text.lower()


async def test_ferretdb_outage_is_a_quick_503_and_recovers(client: httpx.AsyncClient) -> None:
    account = await new_account(client)
    before = await create_task(client, account, title="before the outage")
    lost_word = unique_word()
    await in_thread(stack_command, "down", "mongo")
    try:
        write, write_s = await timed(
            client.post("/api/v1/tasks", json={"title": lost_word}, headers=account.headers)
        )
        read, read_s = await timed(client.get("/api/v1/tasks", headers=account.headers))
        login, login_s = await timed(
            client.post(
                "/api/v1/auth/login", json={"email": account.email, "password": account.password}
            )
        )
    finally:
        await in_thread(stack_command, "up", "mongo")
    assert_quick_503(write, write_s)
    assert_quick_503(read, read_s)
    assert_quick_503(login, login_s)

    async def writes_again() -> Observation:
        response = await client.post(
            "/api/v1/tasks", json={"title": "after"}, headers=account.headers
        )
        return response.status_code == 201, response.text[:300]

    await eventually(writes_again, within=RECOVERY_S, interval=0.5)
    listed = await client.get("/api/v1/tasks", params={"limit": 100}, headers=account.headers)
    titles = sorted(item["title"] for item in listed.json()["items"])
    assert before["title"] in titles
    assert lost_word not in titles
    assert titles.count("after") == 1


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

    workers = [asyncio.create_task(worker(m)) for m in ("GET",) * 6 + ("POST",) * 2]
    await asyncio.sleep(2.0)
    await in_thread(fault)
    await asyncio.sleep(3.0)
    stop.set()
    await asyncio.gather(*workers)
    return counts["GET"], failures["GET"], counts["POST"], failures["POST"]
