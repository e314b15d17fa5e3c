"""Keeps this replica's index fed and answering, including across a swapped-in rebuild.

The active index answers searches; when ``current`` names a new index, a projector catches
the new one up and only then makes it active, so searches never see a half-built index.
"""

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from aiokafka.errors import KafkaError

from services.search.app.config import Settings
from services.search.app.consistency import CommitSignal
from services.search.app.consumer import Projector, make_consumer
from services.search.app.index import TaskIndex, UnreadableIndex
from services.search.app.invalidator import CacheInvalidator
from services.search.app.layout import (
    current_target,
    finish_build,
    new_build_dir,
    remove_orphans,
    remove_stale,
    storage_dir,
    swap_current,
)
from services.search.app.metrics import ProjectionMetrics
from shared.problems import DependencyUnavailable

log = logging.getLogger("taskstream.search.runtime")
RETRY_SECONDS = 1.0


class IndexNotReady(DependencyUnavailable):
    """No index has caught up with the topic yet."""


def open_current_or_fresh(settings: Settings) -> TaskIndex:
    """The index ``current`` names; an empty one (replayed from offset 0) if it is unusable."""
    root, topic, heap = settings.index_dir, settings.task_events_topic, settings.writer_heap_bytes
    storage = storage_dir(root, settings.index_storage_dir)
    remove_orphans(storage)
    target = current_target(root)
    if target is not None:
        try:
            return TaskIndex.open(target, topic=topic, heap_bytes=heap)
        except UnreadableIndex as exc:
            log.warning("index unusable, rebuilding from offset 0: %s", exc)
    fresh = finish_build(new_build_dir(storage))
    index = TaskIndex.create(fresh, topic=topic, heap_bytes=heap)
    swap_current(root, fresh)
    return index


def current_task_cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class SearchRuntime:
    def __init__(
        self,
        *,
        settings: Settings,
        metrics: ProjectionMetrics,
        invalidator: CacheInvalidator,
        writer: ThreadPoolExecutor,
    ) -> None:
        self.settings = settings
        self.writer = writer
        self.metrics = metrics
        self.invalidator = invalidator
        self.commits = CommitSignal()
        self._active: TaskIndex | None = None

    @property
    def index(self) -> TaskIndex:
        if self._active is None:
            raise IndexNotReady("the search index is still being built")
        return self._active

    async def check_ready(self) -> None:
        self.index  # noqa: B018 - raises until an index has caught up

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                # aiokafka lets a CancelledError of its own escape when the broker goes away;
                # only a cancellation of this task (shutdown) may end the projection.
                if current_task_cancelling():
                    raise
                log.warning("projection interrupted; reopening the index from its last commit")
            except KafkaError as exc:
                log.warning("Kafka unavailable (%s); retrying", type(exc).__name__)
            except Exception:
                log.exception("projection failed; reopening the index from its last commit")
            await asyncio.sleep(RETRY_SECONDS)

    async def run_once(self) -> None:
        """Open ``current`` and project into it until a rebuild is swapped in or it fails."""
        index = await asyncio.to_thread(open_current_or_fresh, self.settings)
        try:
            await self.project(index)
        except (Exception, asyncio.CancelledError):
            # The writer goes, the searcher stays: the active index keeps answering.
            await asyncio.to_thread(index.discard_staged)
            await asyncio.to_thread(index.close)
            raise

    async def project(self, index: TaskIndex) -> None:
        consumer = make_consumer(self.settings)
        try:
            await consumer.start()
            projector = Projector(
                settings=self.settings,
                index=index,
                consumer=consumer,
                writer=self.writer,
                metrics=self.metrics,
                invalidator=self.invalidator,
                commits=self.commits,
            )
            await projector.run(on_caught_up=lambda: self.activate(index))
        finally:
            await consumer.stop()

    def activate(self, index: TaskIndex) -> None:
        previous, self._active = self._active, index
        log.info("index active", extra={"index_path": str(index.path)})
        if previous is not None and previous is not index:
            previous.close()
            remove_stale(index.path.parent, keep=index.path)
