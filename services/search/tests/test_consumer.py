"""The projector keeps taking records while the writer commits."""

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from prometheus_client import CollectorRegistry

from services.search.app.config import Settings
from services.search.app.consumer import Projector, writer_thread
from services.search.app.index import CommitResult, TaskIndex
from services.search.app.metrics import ProjectionMetrics
from services.search.tests.factories import record

SECRET = "k" * 8 + "unit-test-signing-key-0123456789"
PARTITION = TopicPartition("events", 0)
COMMIT_SECONDS = 0.2


class ArrivingConsumer:
    """Stands in for ``AIOKafkaConsumer``: ``getmany`` hands out what a test put in ``queue``."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[ConsumerRecord[bytes, bytes]] = asyncio.Queue()

    def assignment(self) -> set[TopicPartition]:
        return {PARTITION}

    def highwater(self, tp: TopicPartition) -> None:
        return None

    async def getmany(
        self, *, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        try:
            first = await asyncio.wait_for(self.queue.get(), timeout_ms / 1000)
        except TimeoutError:
            return {}
        return {PARTITION: [first]}


@pytest.fixture
def index(tmp_path: Path) -> Iterator[TaskIndex]:
    created = TaskIndex.create(tmp_path / "index-1", topic="events", heap_bytes=15_000_000)
    real_commit = created.commit

    def slow_commit() -> CommitResult:
        # A commit long enough for a record to arrive while it runs.
        time.sleep(COMMIT_SECONDS)
        return real_commit()

    created.commit = slow_commit  # type: ignore[method-assign]
    yield created
    created.close()


def t2_arriving_during_the_commit_of_t1(index: TaskIndex) -> tuple[ArrivingConsumer, Projector]:
    """A live projector whose consumer has t1 now and gets t2 while t1 is being committed."""
    consumer = ArrivingConsumer()
    live = Projector(
        settings=Settings(internal_signing_secret=SECRET),
        index=index,
        consumer=consumer,
        writer=writer_thread(),
        metrics=ProjectionMetrics(CollectorRegistry()),
        invalidator=None,
    )
    live.live = True
    consumer.queue.put_nowait(record(0, "t1"))
    asyncio.get_running_loop().call_later(
        COMMIT_SECONDS / 4, consumer.queue.put_nowait, record(1, "t2")
    )
    return consumer, live


async def test_a_record_arriving_during_a_commit_is_taken_and_committed_next(
    index: TaskIndex,
) -> None:
    _, live = t2_arriving_during_the_commit_of_t1(index)

    assert await live.project_once() == 1
    assert live.holding == 1  # t2: taken while t1 was committed
    assert index.version_of("t2") is None

    assert await live.project_once() == 1
    assert live.holding == 0
    assert index.version_of("t2") == 1
    assert index.offsets == {0: 2}


async def test_a_cycle_that_must_end_holding_nothing_takes_nothing_meanwhile(
    index: TaskIndex,
) -> None:
    consumer, live = t2_arriving_during_the_commit_of_t1(index)

    assert await live.project_once(fetch_meanwhile=False) == 1
    assert live.holding == 0
    assert consumer.queue.qsize() == 1


def test_a_batch_counts_what_it_applied_and_skipped(index: TaskIndex) -> None:
    metrics = ProjectionMetrics(CollectorRegistry())
    projector = Projector(
        settings=Settings(internal_signing_secret=SECRET),
        index=index,
        consumer=ArrivingConsumer(),
        writer=writer_thread(),
        metrics=metrics,
        invalidator=None,
    )
    garbage = ConsumerRecord("events", 0, 3, 0, 0, b"t9", b"{not json", None, 0, 9, ())
    projector.stage([record(0, "t1"), record(1, "t2"), record(2, "t1"), garbage])

    assert metrics.applied._value.get() == 2
    assert metrics.skipped.labels("stale")._value.get() == 1
    assert metrics.skipped.labels("unreadable")._value.get() == 1
