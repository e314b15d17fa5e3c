"""The outbox relay and sweeper on the in-memory store, with a Kafka that fails and recovers."""

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka.errors import KafkaConnectionError
from prometheus_client import CollectorRegistry
from pymongo.errors import AutoReconnect

from services.tasks.app.config import Settings
from services.tasks.app.documents import OUTBOX_FLAG, Document
from services.tasks.app.outbox import EventProducer, OutboxRelay, PublishFailed
from services.tasks.app.schemas import TaskCreate
from services.tasks.app.service import TaskService
from services.tasks.tests.fakes import InMemoryTaskStore, UncachedStats

OWNER = "user-1"
STALE_SECONDS = 30.0
TOPIC = "task-events-test"
WITHIN_SECONDS = 2.0


class FakeKafka:
    """The relay's ``Producers``: a broker that is up or down. A producer that saw Kafka fail
    stays broken, as an idempotent producer's sequence numbers do after a broker restart."""

    def __init__(self) -> None:
        self.down = False
        self.records: list[tuple[str, str, int]] = []  # topic, key, version
        self.connects = 0
        self.closed: list[FakeProducer] = []

    async def connect(self) -> EventProducer:
        self.connects += 1
        return FakeProducer(self)

    async def close(self, producer: EventProducer) -> None:
        assert isinstance(producer, FakeProducer)
        self.closed.append(producer)

    def versions(self, task_id: str) -> list[int]:
        return [version for _, key, version in self.records if key == task_id]


class FakeProducer:
    def __init__(self, kafka: FakeKafka) -> None:
        self.kafka = kafka
        self.broken = False

    async def send(
        self, topic: str, *, value: bytes, key: bytes, headers: list[tuple[str, bytes]]
    ) -> "asyncio.Future[object]":
        if self.kafka.down or self.broken:
            self.broken = True
            raise KafkaConnectionError("broker gone")
        assert ("content-type", b"application/cloudevents+json") in headers
        self.kafka.records.append((topic, key.decode(), json.loads(value)["data"]["version"]))
        delivered: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        delivered.set_result(None)
        return delivered


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


class FlakyStore(InMemoryTaskStore):
    """Its first ``failures`` acknowledgements fail, as during a database failover."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def acknowledge(self, task_id: str, published: Sequence[Document]) -> None:
        if self.failures:
            self.failures -= 1
            raise AutoReconnect("primary stepped down")
        await super().acknowledge(task_id, published)


class Harness:
    def __init__(self, store: InMemoryTaskStore | None = None) -> None:
        self.store = store or InMemoryTaskStore()
        self.kafka = FakeKafka()
        self.clock = Clock()
        settings = Settings(
            internal_signing_secret="k7Qv2Lw9Zr4Tn8Ym3Px6Hc1Jd5Fb0Gs2",
            task_events_topic=TOPIC,
            sweep_interval_seconds=0.005,
            outbox_stale_seconds=STALE_SECONDS,
        )
        self.relay = OutboxRelay(
            store=self.store,
            settings=settings,
            registry=CollectorRegistry(),
            producers=self.kafka,
            clock=self.clock,
            retry_backoff_seconds=0,
        )
        self.tasks = TaskService(
            store=self.store,
            stats=UncachedStats(),
            notify_outbox=self.relay.notify,
            cursor_key=b"k" * 32,
        )

    async def create(self, title: str = "t") -> str:
        task = await self.tasks.create_task(owner_id=OWNER, fields=TaskCreate(title=title))
        return task.id

    async def update(self, task_id: str, title: str) -> None:
        await self.tasks.update_task(
            owner_id=OWNER, task_id=task_id, patch={"title": title}, expected_etags=None
        )

    def pending(self, task_id: str) -> list[int]:
        return [event["version"] for event in self.store.docs[task_id]["pending_events"]]


async def until(condition: Callable[[], bool]) -> None:
    """Let the relay run until ``condition`` holds; fail after ``WITHIN_SECONDS``."""
    async with asyncio.timeout(WITHIN_SECONDS):
        while True:
            if condition():
                return
            await asyncio.sleep(0.001)


@pytest.fixture
async def running() -> AsyncIterator[Harness]:
    h = Harness()
    relay = asyncio.create_task(h.relay.run())
    yield h
    relay.cancel()
    with pytest.raises(asyncio.CancelledError):
        await relay


async def test_handed_events_go_out_in_version_order_per_task() -> None:
    h = Harness()
    task_id = await h.create()
    await h.update(task_id, "two")
    producer = await h.kafka.connect()
    events = h.store.docs[task_id]["pending_events"]
    published = await h.relay.publish_pending(producer, {task_id: list(reversed(events))})
    assert h.kafka.records == [(TOPIC, task_id, 1), (TOPIC, task_id, 2)]
    assert [doc["_id"] for doc in published] == [task_id]


async def test_a_task_to_reread_is_published_from_its_stored_outbox() -> None:
    h = Harness()
    task_id = await h.create()
    await h.update(task_id, "two")
    published = await h.relay.publish_pending(await h.kafka.connect(), {task_id: None})
    assert h.kafka.versions(task_id) == [1, 2]
    assert published == [
        {"_id": task_id, "pending_events": h.store.docs[task_id]["pending_events"]}
    ]


async def test_a_failed_publish_raises_and_leaves_the_outbox_alone() -> None:
    h = Harness()
    task_id = await h.create()
    h.kafka.down = True
    with pytest.raises(PublishFailed, match="KafkaConnectionError"):
        await h.relay.publish_pending(await h.kafka.connect(), {task_id: None})
    assert h.pending(task_id) == [1]


async def test_written_events_are_published_and_then_acknowledged(running: Harness) -> None:
    h = running
    task_id = await h.create()
    await h.update(task_id, "two")
    await until(lambda: not h.pending(task_id))
    assert h.kafka.versions(task_id) == [1, 2]
    assert h.store.docs[task_id][OUTBOX_FLAG] is False


async def test_a_published_delete_removes_the_task(running: Harness) -> None:
    h = running
    task_id = await h.create()
    await h.tasks.delete_task(owner_id=OWNER, task_id=task_id, expected_etags=None)
    await until(lambda: task_id not in h.store.docs)
    assert h.kafka.versions(task_id) == [1, 2]


async def test_when_kafka_fails_the_relay_retries_with_a_fresh_producer(running: Harness) -> None:
    h = running
    h.kafka.down = True
    task_id = await h.create()
    await h.update(task_id, "two")
    await until(lambda: len(h.kafka.closed) >= 1)
    assert h.pending(task_id) == [1, 2]
    assert h.kafka.records == []
    h.kafka.down = False
    await until(lambda: not h.pending(task_id))
    assert h.kafka.versions(task_id) == [1, 2]
    assert h.kafka.connects == len(h.kafka.closed) + 1
    assert all(producer.broken for producer in h.kafka.closed)


async def test_events_whose_clearing_failed_are_published_again_then_cleared() -> None:
    h = Harness(FlakyStore(failures=1))
    relay = asyncio.create_task(h.relay.run())
    try:
        task_id = await h.create()
        await until(lambda: not h.pending(task_id))
    finally:
        relay.cancel()
    # At least once: the consumers deduplicate by version.
    assert h.kafka.versions(task_id) == [1, 1]


async def test_the_sweeper_takes_outboxes_that_waited_too_long() -> None:
    h = Harness()
    # A write whose replica crashed before its relay ran: no notification, events stored.
    task_id = await h.create()
    h.relay = OutboxRelay(
        store=h.store,
        settings=Settings(
            internal_signing_secret="k7Qv2Lw9Zr4Tn8Ym3Px6Hc1Jd5Fb0Gs2",
            sweep_interval_seconds=0.005,
            outbox_stale_seconds=STALE_SECONDS,
        ),
        registry=CollectorRegistry(),
        producers=h.kafka,
        clock=h.clock,
        retry_backoff_seconds=0,
    )
    assert await h.relay.stale_task_ids() == []
    relay = asyncio.create_task(h.relay.run())
    try:
        await asyncio.sleep(0.05)  # several sweeps: nothing is stale yet, nothing goes out
        assert h.kafka.records == []
        h.clock.now += timedelta(seconds=STALE_SECONDS + 1)
        assert await h.relay.stale_task_ids() == [task_id]
        await until(lambda: not h.pending(task_id))
    finally:
        relay.cancel()
    assert h.kafka.versions(task_id) == [1]
