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
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic

from deploy.local.services import REPO, ServiceProcess
from services.search.app.layout import current_target
from shared.events import TaskCloudEvent, TaskEventType, encode_event
from tests.integration.harness import System
from tests.support.polling import eventually
from tests.support.processes import retire
from tests.support.search import (
    ids_for,
    new_id,
    open_producer,
    publish,
    search,
    task_event,
    unique_word,
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

    await eventually(complete, within=RECOVERY_S, interval=0.02)
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

    await eventually(live_done, within=5.0, interval=0.02)
    process = system.one("search")
    index_root = Path(process.env["SEARCH_INDEX_DIR"])
    old_index = current_target(index_root)
    assert old_index is not None
    await asyncio.to_thread(run_rebuild, dict(process.env))
    assert current_target(index_root) != old_index

    # The service drops the old directory once the new index has caught up and answers.
    async def old_index_dropped() -> bool:
        return not old_index.exists()

    await eventually(old_index_dropped, within=10.0, interval=0.02)
    assert await results(system, user, words) == expected
    later, later_word = new_id(), unique_word()
    await publish(
        producer, system, task_event(later, user, 1, TaskEventType.created, title=later_word)
    )

    async def follows_live_events() -> bool:
        return await ids_for(system, user, later_word) == [later]

    await eventually(follows_live_events, within=5.0, interval=0.02)


async def send_to(system: System, topic: str, event: TaskCloudEvent, partition: int) -> None:
    """A fresh producer each time, so it knows of partitions added a moment ago."""
    async with AIOKafkaProducer(bootstrap_servers=system.env["KAFKA_BOOTSTRAP_SERVERS"]) as kafka:
        await kafka.send_and_wait(
            topic, encode_event(event), key=event.subject.encode(), partition=partition
        )


async def found_on(system: System, replica: ServiceProcess, user: str, word: str) -> set[str]:
    page = await search(system, user, replica, q=word)
    return {item["task"]["id"] for item in page["items"]}


async def test_new_partitions_are_followed_and_an_unreadable_index_rebuilds_itself(
    system: System,
) -> None:
    topic = system.env["KAFKA_TASK_EVENTS_TOPIC"] + "-grow"
    admin = AIOKafkaAdminClient(bootstrap_servers=system.env["KAFKA_BOOTSTRAP_SERVERS"])
    await admin.start()
    replica = await asyncio.to_thread(
        system.add, "search", extra_env={"KAFKA_TASK_EVENTS_TOPIC": topic}
    )
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        user, word, first, second = new_id(), unique_word(), new_id(), new_id()
        await send_to(system, topic, task_event(first, user, 1, title=word), 0)

        async def first_found() -> bool:  # the topic appeared after the replica started
            return await found_on(system, replica, user, word) == {first}

        async def both_found() -> bool:
            return await found_on(system, replica, user, word) == {first, second}

        await eventually(first_found, within=15.0, interval=0.02)
        await admin.create_partitions({topic: NewPartitions(total_count=3)})
        await send_to(system, topic, task_event(second, user, 1, title=word), 2)
        await eventually(both_found, within=15.0, interval=0.02)
        await asyncio.to_thread(replica.stop)
        index = current_target(Path(replica.env["SEARCH_INDEX_DIR"]))
        assert index is not None
        (index / "meta.json").write_text("not an index")
        await asyncio.to_thread(replica.start)
        await asyncio.to_thread(replica.wait_ready)
        await eventually(both_found, within=15.0, interval=0.02)
    finally:
        await asyncio.to_thread(retire, system, replica)
        await admin.close()
