"""The projection: task events from Kafka applied to one ``TaskIndex``.

Partitions are assigned by hand (no consumer group): every replica reads every partition and
keeps its own offsets inside its index, so replicas never share or hand over work.
"""

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from pydantic import ValidationError

from services.search.app.config import Settings
from services.search.app.consistency import CommitSignal
from services.search.app.index import CommitResult, TaskIndex
from services.search.app.invalidator import CacheInvalidator
from services.search.app.layout import current_target
from services.search.app.metrics import ProjectionMetrics
from shared.events import TaskCloudEvent, decode_event

log = logging.getLogger("taskstream.search.consumer")
T = TypeVar("T")
# Users a replay may leave unbumped; each commit's payload lists them (about 40 bytes each).
MAX_UNBUMPED_OWNERS = 50_000


def writer_thread() -> ThreadPoolExecutor:
    """The thread index writes run on; one per process, which has one projection at a time."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="search-writer")


def make_consumer(settings: Settings) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        # Only used when a stored offset is gone from the log (retention): start over.
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
        # Replaying a backlog, bigger fetches mean fewer round trips per committed batch.
        max_partition_fetch_bytes=4 * 1024 * 1024,
        client_id=f"taskstream-search-{settings.port}",
    )


def decode_or_none(value: bytes | None) -> TaskCloudEvent | None:
    if value is None:
        return None
    try:
        return decode_event(value)
    except ValidationError:
        return None


class Projector:
    def __init__(
        self,
        *,
        settings: Settings,
        index: TaskIndex,
        consumer: AIOKafkaConsumer,
        writer: ThreadPoolExecutor,
        metrics: ProjectionMetrics,
        invalidator: CacheInvalidator | None,
        commits: CommitSignal | None = None,
    ) -> None:
        self.settings = settings
        self.commits = commits
        self.index = index
        self.consumer = consumer
        self.writer = writer
        self.metrics = metrics
        self.invalidator = invalidator
        self.live = False
        # Kafka timestamps of the staged changes: our own share of the event's journey.
        self._record_times: list[float] = []
        # Taken from the consumer while the writer was busy; staged in the next cycle.
        self._fetched: list[ConsumerRecord[bytes, bytes]] = []

    async def run(self, *, on_caught_up: Callable[[], None]) -> None:
        """Project until ``current`` names another index (a rebuild was swapped in)."""
        await self.sync_partitions()
        next_watch = time.monotonic()
        while True:
            watch_due = time.monotonic() >= next_watch
            # Nothing is fetched during a due watch's cycle, so that it ends holding nothing.
            received = await self.project_once(fetch_meanwhile=not watch_due)
            if received == 0 and not self.holding and not self.live:
                self.live = True
                on_caught_up()
                # Readers see this index from now on: every user a replayed commit changed
                # (or a crash left unbumped) is bumped once, not after each commit.
                self.invalidate(self.index.take_unbumped_owners())
            if watch_due and not self.holding:
                next_watch = time.monotonic() + self.settings.watch_interval_ms / 1000
                if current_target(self.settings.index_dir) != self.index.path:
                    return
                await self.sync_partitions()

    async def replay_to(self, end_offsets: Mapping[int, int]) -> None:
        """Project until every partition is read and committed up to ``end_offsets``."""
        await self.sync_partitions()
        while True:
            await self.project_once()
            if not self.holding and await self.reached(end_offsets):
                return

    async def reached(self, end_offsets: Mapping[int, int]) -> bool:
        # Positions, not stored offsets: control records advance the one but not the other.
        topic = self.settings.task_events_topic
        for partition, end in end_offsets.items():
            if await self.consumer.position(TopicPartition(topic, partition)) < end:
                return False
        return True

    async def sync_partitions(self) -> None:
        """Assign every partition of the topic (new ones too) at the index's committed offsets;
        only called holding nothing, so committed offsets are the consumer positions."""
        # The consumer's cached metadata covers assigned topics only and refreshes every few
        # minutes; a fresh cluster-wide answer shows a new topic or partition at once.
        cluster = await self.consumer._client.fetch_all_metadata()
        found = cluster.partitions_for_topic(self.settings.task_events_topic) or set()
        assigned = {tp.partition for tp in self.consumer.assignment()}
        if found - assigned:
            topic = self.settings.task_events_topic
            partitions = [TopicPartition(topic, p) for p in sorted(found)]
            self.consumer.assign(partitions)
            for tp in partitions:
                self.consumer.seek(tp, self.index.offsets.get(tp.partition, 0))
            log.info("assigned partitions", extra={"partitions": sorted(found)})
        self.update_lag()

    @property
    def holding(self) -> int:
        """Records taken from the consumer that no commit covers yet (staged or fetched)."""
        return self.index.staged_records + len(self._fetched)

    async def project_once(self, *, fetch_meanwhile: bool = True) -> int:
        """One cycle: take what the consumer has, stage it, and commit in the same writer call
        when a commit is due (every hand-over between the loop and the writer costs time).

        While the writer works, the loop goes on taking what the consumer fetches: aiokafka
        does not fetch a partition again while its last fetch lies unread, so a record that
        reaches Kafka during a commit would otherwise wait a whole extra cycle."""
        if not self.consumer.assignment():
            await asyncio.sleep(self.settings.watch_interval_ms / 1000)
            return 0
        staged = self.index.staged_records
        records = await self.take_records(staged)
        if self.commit_due(staged=staged + len(records), received=len(records)):
            committing = self.in_writer_thread(self.stage_and_commit, records)
            room = self.settings.commit_max_events
            result = await self.fetching_meanwhile(committing, room if fetch_meanwhile else 0)
            if self.commits is not None:
                self.commits.notify()
            # Replaying, no reader sees this index yet (it is activated when it catches up),
            # and a bump per commit was a sixth of a replay's CPU (decision 0920); past
            # ``MAX_UNBUMPED_OWNERS`` they are bumped anyway, to keep the payload small.
            if self.live or self.index.unbumped_owner_count > MAX_UNBUMPED_OWNERS:
                self.invalidate(self.index.take_unbumped_owners())
            self.observe_visibility(result)
            self.update_lag()
        elif records:
            staging = self.in_writer_thread(self.stage, records)
            room = self.settings.commit_max_events - staged - len(records)
            await self.fetching_meanwhile(staging, room if fetch_meanwhile else 0)
        return len(records)

    async def take_records(self, staged: int) -> list[ConsumerRecord[bytes, bytes]]:
        """The records fetched during the last writer call and whatever else the consumer
        has; waits for new ones only when none were fetched meanwhile."""
        fetched, self._fetched = self._fetched, []
        timeout_ms = 0 if fetched else self.poll_timeout_ms(staged)
        room = self.settings.commit_max_events - staged - len(fetched)
        return fetched + (await self.poll(timeout_ms, room) if room > 0 else [])

    async def poll(self, timeout_ms: int, max_records: int) -> list[ConsumerRecord[bytes, bytes]]:
        batch = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        return [record for partition in batch.values() for record in partition]

    async def fetching_meanwhile(self, work: Awaitable[T], room: int) -> T:
        """Await the writer's ``work`` while taking up to ``room`` fetched records into
        ``_fetched``. The writer always finishes what it started, even when polling fails."""
        job = asyncio.ensure_future(work)
        try:
            while not job.done() and len(self._fetched) < room:
                polling = asyncio.ensure_future(
                    self.poll(self.settings.watch_interval_ms, room - len(self._fetched))
                )
                await asyncio.wait({job, polling}, return_when=asyncio.FIRST_COMPLETED)
                if not polling.done():
                    polling.cancel()  # safe: aiokafka hands records out only synchronously
                    await asyncio.wait({polling})
                if not polling.cancelled():
                    self._fetched += polling.result()
        finally:
            await asyncio.wait({job})
        return job.result()

    async def in_writer_thread(self, function: Callable[..., T], *args: object) -> T:
        """Writer work runs on a thread of its own: in the shared pool a commit would queue
        behind searches, and every search in the queue would delay what readers see."""
        return await asyncio.get_running_loop().run_in_executor(self.writer, function, *args)

    def poll_timeout_ms(self, staged: int) -> int:
        # Replaying, wait for the next fetch before committing, so commits stay large and few.
        return self.settings.commit_interval_ms if staged else self.settings.watch_interval_ms

    def commit_due(self, *, staged: int, received: int) -> bool:
        """Live, whatever a poll brings is committed at once; replaying, commits wait until the
        consumer has caught up or holds ``commit_max_events``."""
        if not staged:
            return False
        return self.live or received == 0 or staged >= self.settings.commit_max_events

    def stage(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        applied = 0
        skipped: Counter[str] = Counter()
        for record in records:
            event = decode_or_none(record.value)
            if self.index.stage(partition=record.partition, offset=record.offset, event=event):
                applied += 1
                if self.live:  # replayed records' times would only be thrown away
                    self._record_times.append(record.timestamp / 1000)
            else:
                skipped["stale" if event else "unreadable"] += 1
        # Counted once per batch: per record, the counters were a few % of a replay.
        self.metrics.applied.inc(applied)
        for reason, count in skipped.items():
            self.metrics.skipped.labels(reason).inc(count)

    def stage_and_commit(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> CommitResult:
        self.stage(records)
        started = time.perf_counter()
        result = self.index.commit()
        self.metrics.commit_seconds.observe(time.perf_counter() - started)
        return result

    def invalidate(self, owners: Iterable[str]) -> None:
        if self.invalidator is not None:
            self.invalidator.invalidate(owners)

    def observe_visibility(self, result: CommitResult) -> None:
        record_times, self._record_times = self._record_times, []
        # A replayed backlog would fill the histograms with its age, not with our latency.
        if not self.live:
            return
        now = datetime.now(UTC)
        for event_time in result.event_times:
            aware = event_time if event_time.tzinfo else event_time.replace(tzinfo=UTC)
            self.metrics.event_to_searchable.observe(max(0.0, (now - aware).total_seconds()))
        for record_time in record_times:
            self.metrics.kafka_to_visible.observe(max(0.0, now.timestamp() - record_time))

    def update_lag(self) -> None:
        for tp in self.consumer.assignment():
            highwater = self.consumer.highwater(tp)
            if highwater is not None:
                lag = highwater - self.index.offsets.get(tp.partition, 0)
                self.metrics.lag.labels(str(tp.partition)).set(max(0, lag))
