"""The tasks outbox under faults: Kafka stopped, the tasks process SIGKILLed, Redis stopped.

Every test restores what it stopped in a ``finally``.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from services.tasks.app.config import Settings
from tests.integration.harness import System, stack_command
from tests.support.tasks import TASKS, TasksUser, task_events

pytestmark = [pytest.mark.integration, pytest.mark.faults]
RECOVERY_S = 120.0


@pytest.fixture
async def user(system: System) -> AsyncIterator[TasksUser]:
    async with httpx.AsyncClient(base_url=system.one("tasks").url, timeout=30) as http:
        yield TasksUser(system, http)


def keys_of(records: list[Any]) -> set[str]:
    return {record.key.decode() for record in records if record.key}


async def test_writes_during_a_kafka_outage_are_published_after_it(
    system: System, user: TasksUser
) -> None:
    await asyncio.to_thread(stack_command, "down", "kafka")
    try:
        created = [await user.create(title=f"outage {n}") for n in range(100)]
    finally:
        await asyncio.to_thread(stack_command, "up", "kafka")
    assert len(created) == 100
    ids = {task["id"] for task in created}
    records = await task_events(system, until=lambda rs: ids <= keys_of(rs), within=RECOVERY_S)
    assert ids <= keys_of(records)


async def pending_events_of(system: System, task_id: str) -> list[dict[str, Any]]:
    settings = Settings(
        mongodb_url=system.env["MONGODB_URL"],
        internal_signing_secret=system.env["INTERNAL_SIGNING_SECRET"],
    )
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_url)
    try:
        doc = await client[settings.mongodb_database]["tasks"].find_one({"_id": task_id})
    finally:
        await client.close()
    assert doc is not None
    events: list[dict[str, Any]] = doc["pending_events"]
    return events


async def test_a_write_whose_process_is_killed_before_publishing_still_arrives(
    system: System, user: TasksUser
) -> None:
    tasks = system.one("tasks")
    normal_env = dict(tasks.env)
    # Restart the one tasks process with its relay held back, so the write below is
    # acknowledged but certainly unpublished when SIGKILL arrives.
    tasks.stop()
    tasks.env = {**normal_env, "TASKS_RELAY_START_DELAY_SECONDS": "3600"}
    try:
        tasks.start()
        await asyncio.to_thread(tasks.wait_ready)
        task = await user.create(title="written, then killed")
        tasks.kill()
        assert len(await pending_events_of(system, task["id"])) == 1
    finally:
        tasks.kill()
        tasks.env = normal_env
        tasks.start()
        await asyncio.to_thread(tasks.wait_ready)
    records = await task_events(
        system, until=lambda rs: task["id"] in keys_of(rs), within=RECOVERY_S
    )
    assert task["id"] in keys_of(records)


async def test_stats_are_served_from_mongodb_while_redis_is_down(user: TasksUser) -> None:
    await user.create(title="one", status="done")
    await user.create(title="two")
    await asyncio.to_thread(stack_command, "down", "redis")
    try:
        created = await user.call("POST", TASKS, json={"title": "three"})
        stats = await user.call("GET", f"{TASKS}/stats")
    finally:
        await asyncio.to_thread(stack_command, "up", "redis")
    assert created.status_code == 201, created.text
    assert stats.status_code == 200, stats.text
    assert stats.json()["total"] == 3
    assert stats.json()["by_status"]["done"] == 1
