"""What the fault tests share: a counted stream of writes, and reading the events topic."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer

from shared.events import decode_event
from tests.integration.harness import System
from tests.support.accounts import Account, new_account
from tests.support.polling import Observation, eventually
from tests.support.search import search_total, unique_word

RECOVERY_S = 90.0
# Once events are on the topic, search has this long to index them all.
SEARCH_CATCH_UP_S = 60.0
# Acknowledged writes wanted before a fault, and again after it.
WRITES_AROUND_A_FAULT = 5


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
    """Run ``fault`` in the middle of a write stream: writes are acknowledged before it and
    again after it (waited for, not slept on), then the stream stops."""
    stop = asyncio.Event()
    writer = asyncio.create_task(stream.run_until(stop))
    try:
        await acknowledged_beyond(stream, WRITES_AROUND_A_FAULT, within=RECOVERY_S)
        await fault()
        after_fault = len(stream.acknowledged)
        await acknowledged_beyond(stream, after_fault + WRITES_AROUND_A_FAULT, within=RECOVERY_S)
    finally:
        stop.set()
        await writer


async def acknowledged_beyond(stream: WriteStream, count: int, *, within: float) -> None:
    """Until ``stream`` has at least ``count`` acknowledged writes."""

    async def enough() -> Observation:
        seen = {"acknowledged": len(stream.acknowledged), "failures": stream.failures[-3:]}
        return len(stream.acknowledged) >= count, seen

    await eventually(enough, within=within, interval=0.05)


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


async def assert_all_published(system: System, stream: WriteStream) -> None:
    """Each acknowledged task's last write (version 2) is on the topic."""
    want = {(task_id, 2) for task_id in stream.acknowledged}
    seen = await topic_versions(system, within=RECOVERY_S, want=want)
    assert want - seen == set(), f"{len(want - seen)} of {len(want)} final events not published"


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


async def new_stream(client: httpx.AsyncClient) -> WriteStream:
    account = await new_account(client)
    # One request before the concurrent stream, so a cold gateway's first JWKS fetch is not
    # part of this measurement (test_e2e.py covers that race on its own).
    assert (await client.get("/api/v1/tasks", headers=account.headers)).status_code == 200
    return WriteStream(client, account, unique_word(), unique_word("fin"))
