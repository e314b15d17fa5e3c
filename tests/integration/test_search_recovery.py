"""Search survives a SIGKILL mid-stream and a rebuild swapped in under load, losing nothing."""

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from deploy.local.services import REPO
from services.search.app.layout import current_target
from shared.events import TaskCloudEvent, TaskEventType
from tests.integration.harness import System
from tests.integration.secrets_registry import unique_word
from tests.integration.test_search_support import (
    ids_for,
    new_id,
    open_producer,
    publish,
    search,
    task_event,
    until,
)

pytestmark = pytest.mark.integration
STREAM_TASKS = 600
RECOVERY_S = 60.0


@pytest.fixture(scope="module")
async def producer(system: System) -> AsyncIterator[AIOKafkaProducer]:
    async with open_producer(system) as kafka:
        yield kafka


async def stream_tasks(
    producer: AIOKafkaProducer, system: System, user: str, word: str, done_word: str
) -> None:
    """Create each task, then finish it: two versions per task, spread over a few seconds."""
    for _ in range(STREAM_TASKS // 20):
        batch: list[TaskCloudEvent] = []
        for _ in range(20):
            task_id = new_id()
            batch.append(task_event(task_id, user, 1, TaskEventType.created, title=word))
            batch.append(
                task_event(task_id, user, 2, title=word, description=done_word, status="done")
            )
        await publish(producer, system, *batch)
        await asyncio.sleep(0.05)


async def totals(system: System, user: str, word: str, done_word: str) -> tuple[int, int]:
    created = (await search(system, user, q=word))["total"]
    finished = (await search(system, user, q=done_word, status="done"))["total"]
    return created, finished


@pytest.mark.faults
async def test_search_killed_mid_stream_resumes_with_nothing_missing_or_doubled(
    producer: AIOKafkaProducer, system: System
) -> None:
    user, word, done_word = new_id(), unique_word(), unique_word("fin")
    search_process = system.one("search")
    writer = asyncio.create_task(stream_tasks(producer, system, user, word, done_word))
    try:
        await asyncio.sleep(1.0)
        await asyncio.to_thread(search_process.kill)
        await asyncio.to_thread(search_process.start)
        await asyncio.to_thread(search_process.wait_ready)
        await writer
    finally:
        if not search_process.alive():
            search_process.start()
            search_process.wait_ready()

    async def complete() -> bool:
        return await totals(system, user, word, done_word) == (STREAM_TASKS, STREAM_TASKS)

    await until(complete, within=RECOVERY_S)
    page = await search(system, user, q=word, limit=100, offset=STREAM_TASKS - 100)
    assert len({item["task"]["id"] for item in page["items"]}) == 100


def run_rebuild(env: dict[str, str]) -> None:
    command = [sys.executable, "-m", "services.search.app.rebuild"]
    subprocess.run(command, cwd=REPO, env={**os.environ, **env}, check=True, timeout=120)


async def results(system: System, user: str, words: list[str]) -> list[Any]:
    return [sorted(await ids_for(system, user, word)) for word in words]


async def test_a_rebuilt_index_gives_the_live_results_and_is_swapped_in(
    producer: AIOKafkaProducer, system: System
) -> None:
    user, kept, renamed, deleted = new_id(), unique_word(), unique_word(), unique_word()
    a, b, c = new_id(), new_id(), new_id()
    await publish(
        producer,
        system,
        task_event(a, user, 1, TaskEventType.created, title=kept),
        task_event(b, user, 1, TaskEventType.created, title=kept),
        task_event(b, user, 2, title=renamed),
        task_event(c, user, 1, TaskEventType.created, title=deleted),
        task_event(c, user, 2, TaskEventType.deleted, title=deleted),
    )
    words = [kept, renamed, deleted]
    expected = [[a], [b], []]

    async def live_done() -> bool:
        return await results(system, user, words) == expected

    await until(live_done, within=5.0)
    process = system.one("search")
    index_root = Path(process.env["SEARCH_INDEX_DIR"])
    old_index = current_target(index_root)
    assert old_index is not None
    await asyncio.to_thread(run_rebuild, dict(process.env))
    assert current_target(index_root) != old_index

    # The service drops the old directory once the new index has caught up and answers.
    async def old_index_dropped() -> bool:
        return not old_index.exists()

    await until(old_index_dropped, within=10.0)
    assert await results(system, user, words) == expected
    later, later_word = new_id(), unique_word()
    await publish(
        producer, system, task_event(later, user, 1, TaskEventType.created, title=later_word)
    )

    async def follows_live_events() -> bool:
        return await ids_for(system, user, later_word) == [later]

    await until(follows_live_events, within=5.0)
