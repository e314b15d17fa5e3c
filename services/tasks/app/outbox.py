"""The outbox relay: publishes the events stored in task documents, then clears them.

Writers call ``notify(task_id)`` after a write and the relay publishes at once. A sweeper
re-queues documents whose events have waited longer than ``outbox_stale_seconds`` (a crashed
replica, a Kafka outage), so every acknowledged write is published at least once.
"""

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol

from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry, Counter, Histogram
from pymongo.errors import PyMongoError

from services.tasks.app.bounded import gather_bounded
from services.tasks.app.config import Settings
from services.tasks.app.documents import Document, now_utc
from services.tasks.app.kafka import KafkaProducers, record_headers
from services.tasks.app.store import TaskStore
from shared.metrics import LATENCY_BUCKETS

log = logging.getLogger("taskstream.tasks.outbox")
SWEEP_BATCH = 1000
# Published batches whose documents are being cleared while the relay goes on.
MAX_CLEARING_BATCHES = 4
RETRY_BACKOFF_SECONDS = 0.5
PUBLISH_ERRORS = (KafkaError, TimeoutError, OSError)
Queue = dict[str, list[Document] | None]


class EventProducer(Protocol):
    """The part of ``AIOKafkaProducer`` the relay uses."""

    async def send(
        self, topic: str, *, value: bytes, key: bytes, headers: list[tuple[str, bytes]]
    ) -> "asyncio.Future[object]":
        """Queue one record; the returned future resolves when the broker acknowledges it."""


class Producers(Protocol):
    """Makes the relay's producers: one per run of Kafka answering (``kafka.KafkaProducers``)."""

    async def connect(self) -> EventProducer:
        """A started producer, once Kafka answers (retrying until then)."""

    async def close(self, producer: EventProducer) -> None:
        """Stop it without waiting on a Kafka that is gone."""


class PublishFailed(Exception):
    """Kafka did not take a document's events; they stay pending for a retry."""


class OutboxQueue:
    """Tasks with events to publish: per task the events its writes handed over, or None
    when its stored outbox must be read back (a restart, a failure, older events pending)."""

    def __init__(self) -> None:
        self._tasks: Queue = {}
        self.ready = asyncio.Event()

    def add(self, task_id: str, event: Document | None) -> None:
        known = self._tasks.get(task_id, [])
        self._tasks[task_id] = None if event is None or known is None else [*known, event]
        self.ready.set()

    def reread(self, task_ids: Iterable[str]) -> None:
        self._tasks.update(dict.fromkeys(task_ids))
        self.ready.set()

    def take(self) -> Queue:
        self.ready.clear()
        batch, self._tasks = self._tasks, {}
        return batch


class OutboxMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.published = Counter(
            "tasks_outbox_events_published_total",
            "Task events acknowledged by Kafka.",
            registry=registry,
        )
        self.lag = Histogram(
            "tasks_outbox_publish_lag_seconds",
            "From the write to Kafka's acknowledgement.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )


class OutboxRelay:
    """One per process; a single worker so that one task's events go out in version order."""

    def __init__(
        self,
        *,
        store: TaskStore,
        settings: Settings,
        registry: CollectorRegistry,
        producers: Producers | None = None,
        clock: Callable[[], datetime] = now_utc,
        retry_backoff_seconds: float = RETRY_BACKOFF_SECONDS,
    ) -> None:
        self._store = store
        self._settings = settings
        self._producers = producers or KafkaProducers(settings)
        self._clock = clock
        self._retry_backoff_seconds = retry_backoff_seconds
        self._metrics = OutboxMetrics(registry)
        self._queue = OutboxQueue()
        # Task id -> the background clear of its published events, while it runs.
        self._clearing: dict[str, asyncio.Task[None]] = {}

    def notify(self, task_id: str, event: Document | None) -> None:
        """A write stored ``event`` for ``task_id``: publish it now, not at the next sweep.

        ``None`` means "read the task's outbox back": other events may be pending there.
        """
        self._queue.add(task_id, event)

    async def run(self) -> None:
        await asyncio.sleep(self._settings.relay_start_delay_seconds)
        sweeper = asyncio.create_task(self._sweep_forever(), name="outbox-sweeper")
        try:
            while True:
                producer = await self._producers.connect()
                try:
                    await self._relay_until_kafka_fails(producer)
                finally:
                    await self._producers.close(producer)
        finally:
            # Events whose clearing is cut short stay pending: the sweeper publishes them again.
            for task in (sweeper, *self._clearing.values()):
                task.cancel()

    async def _relay_until_kafka_fails(self, producer: EventProducer) -> None:
        """Publish whatever is queued; return when Kafka refuses, to start a fresh producer.

        A fresh producer is needed: after a broker restart an idempotent producer's sequence
        numbers are out of step (``OutOfOrderSequenceNumber``) and it never recovers by itself.
        """
        while True:
            await self._queue.ready.wait()
            batch = self._queue.take()
            try:
                published = await self.publish_pending(producer, batch)
            except (PublishFailed, PyMongoError) as exc:
                log.warning("outbox publish failed, will retry", extra={"error": repr(exc)})
                # Some of the batch may be out already: the stored outboxes say what is not.
                self._queue.reread(batch)
                await asyncio.sleep(self._retry_backoff_seconds)
                if isinstance(exc, PublishFailed):
                    return
            else:
                if published:
                    await self._clear_in_background(published)

    async def _clear_in_background(self, docs: list[Document]) -> None:
        """Clear published events off the relay's path: the next batch goes out while these
        documents are updated, so events do not queue behind the clearing (decision 0833).
        Past ``MAX_CLEARING_BATCHES`` the relay waits."""
        while len(running := set(self._clearing.values())) >= MAX_CLEARING_BATCHES:
            await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
        clear = asyncio.create_task(self._clear_published(docs), name="outbox-clear")
        task_ids = [doc["_id"] for doc in docs]
        self._clearing.update(dict.fromkeys(task_ids, clear))
        clear.add_done_callback(lambda done: self._forget_clear(task_ids, done))

    def _forget_clear(self, task_ids: list[str], done: "asyncio.Task[None]") -> None:
        for task_id in task_ids:
            if self._clearing.get(task_id) is done:
                del self._clearing[task_id]

    async def _cleared(self, task_ids: Iterable[str]) -> None:
        """Wait for the clears in flight of these tasks: read back before, their stored
        outboxes would still list events already out, and those would go out twice."""
        running = {self._clearing[task_id] for task_id in task_ids if task_id in self._clearing}
        if running:
            await asyncio.wait(running)

    async def _clear_published(self, docs: list[Document]) -> None:
        try:
            acks = [
                partial(self._store.acknowledge, doc["_id"], doc["pending_events"]) for doc in docs
            ]
            await gather_bounded(acks)
        except PyMongoError as exc:
            log.warning("clearing published events failed, will retry", extra={"error": repr(exc)})
            # Published but still pending: read back and published again (consumers dedupe).
            self._queue.reread(doc["_id"] for doc in docs)

    async def publish_pending(self, producer: EventProducer, batch: Queue) -> list[Document]:
        """Publish the pending events of these tasks and return the documents they came from,
        for clearing; on failure raise, and the caller re-queues the whole batch.

        Reads and sends each run for the whole batch at once, so a burst of writes costs
        two round trips, not two per task.
        """
        handed = [
            {"_id": task, "pending_events": events} for task, events in batch.items() if events
        ]
        await self._cleared(task_id for task_id, events in batch.items() if events is None)
        reread = [task_id for task_id, events in batch.items() if events is None]
        stored = await self._store.pending_outboxes(reread) if reread else []
        docs = handed + stored
        if docs:
            await self._publish(producer, docs)
        return docs

    async def _publish(self, producer: EventProducer, docs: list[Document]) -> None:
        events = [
            (doc["_id"], event)
            for doc in docs
            for event in sorted(doc["pending_events"], key=lambda event: event["version"])
        ]
        try:
            async with asyncio.timeout(self._settings.publish_timeout_seconds):
                # Sent one after another (per-partition order is send order), acked together.
                deliveries = [
                    await self._send(producer, task_id, event) for task_id, event in events
                ]
                await asyncio.gather(*deliveries)
        except PUBLISH_ERRORS as exc:
            raise PublishFailed(type(exc).__name__) from exc
        acked = self._clock()
        for _, event in events:
            self._metrics.published.inc()
            self._metrics.lag.observe(max((acked - event["at"]).total_seconds(), 0.0))

    async def _send(
        self, producer: EventProducer, task_id: str, event: Document
    ) -> "asyncio.Future[object]":
        delivery: asyncio.Future[object] = await producer.send(
            self._settings.task_events_topic,
            value=event["value"].encode(),
            key=task_id.encode(),
            headers=record_headers(event["traceparent"]),
        )
        return delivery

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._settings.sweep_interval_seconds)
            try:
                stale = await self.stale_task_ids()
            except PyMongoError as exc:
                log.warning("outbox sweep failed", extra={"error": type(exc).__name__})
                continue
            if stale:
                log.info("sweeper re-queued stale outbox entries", extra={"count": len(stale)})
                self._queue.reread(stale)

    async def stale_task_ids(self) -> list[str]:
        cutoff = self._clock() - timedelta(seconds=self._settings.outbox_stale_seconds)
        return await self._store.stale_task_ids(older_than=cutoff, limit=SWEEP_BATCH)
