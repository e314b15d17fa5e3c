"""Kafka from the bench's side: backlog topics, bulk production and watching the run's topic."""

import asyncio
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.corpus import backlog_event, vocabulary
from shared.events import CLOUDEVENTS_CONTENT_TYPE, decode_event, encode_event

# Under the broker's default message.max.bytes (1 MiB), with room for the batch's own header.
BATCH_BYTES = 512 * 1024


async def create_topic(bootstrap: str, name: str, *, partitions: int = 1) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topic = NewTopic(name, partitions, 1, topic_configs={"cleanup.policy": "compact"})
        await admin.create_topics([topic])
    finally:
        await admin.close()


async def delete_topics(bootstrap: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(names)
    finally:
        await admin.close()


async def produce_backlog(bootstrap: str, topic: str, *, owner_id: str, count: int) -> None:
    """``count`` created-events for ``owner_id``, sent straight to Kafka as the relay would."""
    rng = random.Random(count)
    words = vocabulary()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=1 << 20, acks="all"
    )
    await producer.start()
    try:
        headers = [("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())]
        pending = []
        for _ in range(count):
            event = backlog_event(rng, words, owner_id)
            pending.append(
                await producer.send(
                    topic, encode_event(event), key=event.subject.encode(), headers=headers
                )
            )
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def produce_encoded(
    bootstrap: str, topic: str, records: Iterable[tuple[bytes, bytes]], *, partitions: int
) -> int:
    """Already encoded ``(key, value)`` task events, in batches built by hand and spread over
    the partitions in turn (each task has one event, so which partition holds it does not
    matter): ``send`` per record costs the bench more than the replica takes per event.
    The number of records sent."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_batch_size=BATCH_BYTES, acks="all")
    await producer.start()
    try:
        headers = [("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())]
        batches = [producer.create_batch() for _ in range(partitions)]
        delivered: list[asyncio.Future[object]] = []
        sent = 0
        for sent, (key, value) in enumerate(records, start=1):
            partition = sent % partitions
            if batches[partition].append(key=key, value=value, timestamp=None, headers=headers):
                continue
            # Waits while this partition's previous batch is still queued: back-pressure.
            delivered.append(
                await producer.send_batch(batches[partition], topic, partition=partition)
            )
            batches[partition] = producer.create_batch()
            batches[partition].append(key=key, value=value, timestamp=None, headers=headers)
        for partition, batch in enumerate(batches):
            if batch.record_count():
                delivered.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*delivered)
        return sent
    finally:
        await producer.stop()


@dataclass
class Arrival:
    """When one task event reached Kafka, by three clocks."""

    event_time: float
    record_time: float
    seen_at: float


@dataclass
class TopicWatcher:
    """Records every event appended to ``topic`` from now on, by task id and version."""

    bootstrap: str
    topic: str
    arrivals: dict[tuple[str, int], Arrival] = field(default_factory=dict)
    _consumer: AIOKafkaConsumer | None = None
    _task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # No consumer group: every partition is assigned, starting at its current end.
        consumer = AIOKafkaConsumer(
            self.topic,
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="latest",
        )
        await consumer.start()
        try:
            for _ in range(200):
                if consumer.assignment():
                    break
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError(f"no partitions of {self.topic} assigned in 10 s")
            for partition in consumer.assignment():
                await consumer.position(partition)
        except BaseException:
            await consumer.stop()
            raise
        self._consumer = consumer
        self._task = asyncio.create_task(self._watch(consumer))

    async def _watch(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=100)
            seen_at = time.time()
            for records in batches.values():
                for record in records:
                    event = decode_event(record.value)
                    self.arrivals[(event.subject, event.data.version)] = Arrival(
                        event_time=event.time.timestamp(),
                        record_time=record.timestamp / 1000,
                        seen_at=seen_at,
                    )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop()
