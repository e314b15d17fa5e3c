"""Live task events for browsers: every replica reads ``task-events`` and fans out per user.

Each tasks replica assigns itself every partition (no consumer group, like search), keeps the
last ``buffer_events`` records in memory and hands each to the open streams of its owner. An
event's SSE id is the replica's read position after it, one offset per partition
(``"12.40.7"``): offsets are the topic's own, so any replica can resume any stream from it.
A position older than what the buffer holds cannot be replayed; the stream then says
``reset`` and the client refetches.
"""

import asyncio
import logging
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from shared.events import PublicTask, decode_event

log = logging.getLogger("taskstream.tasks.live")
RETRY_SECONDS = 1.0
Position = tuple[int, ...]


class ResumeTooOld(Exception):
    """The client's last event is older than what this replica still holds."""


@dataclass(frozen=True)
class LiveEvent:
    owner_id: str
    partition: int
    offset: int
    position: Position
    type: str
    data: bytes

    @property
    def id(self) -> str:
        return ".".join(str(offset) for offset in self.position)


def parse_position(text: str | None, partitions: int) -> Position | None:
    """A ``Last-Event-ID`` as a position; ``None`` when absent or not one of ours."""
    if not text:
        return None
    parts = text.split(".")
    if len(parts) != partitions or not all(part.isdigit() and len(part) < 19 for part in parts):
        return None
    return tuple(int(part) for part in parts)


@dataclass(eq=False)
class Subscription:
    owner_id: str
    queue: asyncio.Queue[LiveEvent | None] = field(default_factory=lambda: asyncio.Queue(1000))


class LiveEvents:
    def __init__(self, *, bootstrap: str, topic: str, buffer_events: int) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._buffer: deque[LiveEvent] = deque(maxlen=buffer_events)
        self._subscriptions: dict[str, set[Subscription]] = {}
        self._position: list[int] = []
        # Per partition, the first offset the buffer still covers.
        self._covered_from: list[int] = []
        self.ready = asyncio.Event()

    @property
    def partitions(self) -> int:
        return len(self._position)

    async def run(self) -> None:
        while True:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap,
                group_id=None,
                enable_auto_commit=False,
                fetch_max_wait_ms=50,
                client_id="taskstream-tasks-live",
            )
            try:
                await consumer.start()
                await self._follow(consumer)
            except KafkaError as exc:
                log.warning("live events: Kafka unavailable (%s); retrying", type(exc).__name__)
            finally:
                await consumer.stop()
            await asyncio.sleep(RETRY_SECONDS)

    async def _follow(self, consumer: AIOKafkaConsumer) -> None:
        if not await self._assign(consumer):
            return  # the topic does not exist yet: look again
        while True:
            batches = await consumer.getmany(timeout_ms=1000)
            for tp, records in batches.items():
                for record in records:
                    self._take(tp.partition, record)

    async def _assign(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        found = await consumer._client.fetch_all_metadata()
        numbers = sorted(found.partitions_for_topic(self._topic) or ())
        partitions = [TopicPartition(self._topic, number) for number in numbers]
        if not partitions:
            await asyncio.sleep(RETRY_SECONDS)
            return partitions
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        if len(self._position) != len(partitions):
            # A fresh start (or a new partition count): prefill the buffer from the recent past.
            backlog = self._buffer.maxlen or 0
            start = [max(0, ends[tp] - backlog // len(partitions)) for tp in partitions]
            self._position, self._covered_from = list(start), list(start)
            self._buffer.clear()
        for tp in partitions:
            consumer.seek(tp, self._position[tp.partition])
        self.ready.set()
        return partitions

    def _take(self, partition: int, record: ConsumerRecord[bytes, bytes]) -> None:
        self._position[partition] = record.offset + 1
        if len(self._buffer) == self._buffer.maxlen:
            evicted = self._buffer[0]
            self._covered_from[evicted.partition] = evicted.offset + 1
        try:
            event = decode_event(record.value or b"")
        except ValidationError:
            return
        public = PublicTask.model_validate(event.data.model_dump())
        live = LiveEvent(
            owner_id=event.data.owner_id,
            partition=partition,
            offset=record.offset,
            position=tuple(self._position),
            type=event.type.value,
            data=public.model_dump_json().encode(),
        )
        self._buffer.append(live)
        for subscription in self._subscriptions.get(live.owner_id, ()):
            self._deliver(subscription, live)

    @staticmethod
    def _deliver(subscription: Subscription, event: LiveEvent) -> None:
        try:
            subscription.queue.put_nowait(event)
        except asyncio.QueueFull:
            # A client this far behind gets a reset rather than unbounded memory here.
            subscription.queue = asyncio.Queue(1)
            subscription.queue.put_nowait(None)

    def missed_since(self, owner_id: str, position: Position) -> list[LiveEvent]:
        """The owner's buffered events after ``position``; raises ``ResumeTooOld`` if the
        buffer no longer reaches back that far."""
        if len(position) != self.partitions or any(
            wanted < covered for wanted, covered in zip(position, self._covered_from, strict=True)
        ):
            raise ResumeTooOld
        return [
            event
            for event in self._buffer
            if event.owner_id == owner_id and event.offset >= position[event.partition]
        ]

    def subscribe(self, owner_id: str) -> Subscription:
        subscription = Subscription(owner_id)
        self._subscriptions.setdefault(owner_id, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        owners = self._subscriptions.get(subscription.owner_id, set())
        owners.discard(subscription)
        if not owners:
            self._subscriptions.pop(subscription.owner_id, None)

    @property
    def open_streams(self) -> int:
        return sum(len(subscriptions) for subscriptions in self._subscriptions.values())


async def next_event(subscription: Subscription, wait_s: float) -> LiveEvent | bool | None:
    """The next event, ``None`` for a reset, ``False`` when ``wait_s`` passed quietly."""
    try:
        return await asyncio.wait_for(subscription.queue.get(), wait_s)
    except TimeoutError:
        return False


def sse(event: str, data: bytes, event_id: str | None = None) -> bytes:
    head = f"event: {event}\n" + (f"id: {event_id}\n" if event_id else "")
    return head.encode() + b"data: " + data + b"\n\n"


RESET_TOO_OLD = sse("reset", b'{"reason":"resume point no longer held; refetch"}')
RESET_BEHIND = sse("reset", b'{"reason":"too far behind; refetch"}')


def missed(live: LiveEvents, owner_id: str, last_event_id: str | None) -> list[bytes]:
    """What a reconnecting client missed, or a reset when that cannot be told."""
    if last_event_id is None:
        return []
    position = parse_position(last_event_id, live.partitions)
    try:
        if position is None:
            raise ResumeTooOld
        return [sse(e.type, e.data, e.id) for e in live.missed_since(owner_id, position)]
    except ResumeTooOld:
        return [RESET_TOO_OLD]


@dataclass(frozen=True)
class StreamTiming:
    heartbeat_seconds: float
    check_seconds: float


async def event_stream(
    live: LiveEvents,
    *,
    owner_id: str,
    last_event_id: str | None,
    still_allowed: Callable[[], Awaitable[bool]],
    timing: StreamTiming,
) -> AsyncGenerator[bytes]:
    """The SSE body for one client: what it missed, then live events and heartbeats, until
    ``still_allowed`` (asked every ``check_seconds``) says the caller's access has ended."""
    # Subscribed and replayed with no await in between: nothing is both replayed and queued.
    subscription = live.subscribe(owner_id)
    backlog = missed(live, owner_id, last_event_id)
    loop = asyncio.get_running_loop()
    try:
        yield b"retry: 2000\n\n" + b"".join(backlog)
        last_write = last_check = loop.time()
        while True:
            item = await next_event(subscription, timing.check_seconds)
            now = loop.time()
            if now - last_check >= timing.check_seconds:
                if not await still_allowed():
                    return
                last_check = now
            if item is None:
                yield RESET_BEHIND
            elif isinstance(item, LiveEvent):
                yield sse(item.type, item.data, item.id)
            elif now - last_write < timing.heartbeat_seconds:
                continue
            else:
                yield b": heartbeat\n\n"
            last_write = now
    finally:
        live.unsubscribe(subscription)
