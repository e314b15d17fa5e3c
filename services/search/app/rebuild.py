"""Rebuild this replica's index from offset 0 and swap it in while the old one answers.

``python -m services.search.app.rebuild`` (same ``SEARCH_``/shared settings as the service):
replays the topic up to its end offsets as of the start into a new directory, then points
``current`` at it. The running service notices within ``SEARCH_WATCH_INTERVAL_MS``, catches
the new index up with what arrived meanwhile and only then answers from it.
"""

import asyncio
import logging
import sys
import time

from prometheus_client import CollectorRegistry

from services.search.app.allocator import retain_freed_memory
from services.search.app.config import Settings
from services.search.app.consumer import Projector, make_consumer, writer_thread
from services.search.app.index import TaskIndex
from services.search.app.layout import finish_build, new_build_dir, storage_dir, swap_current
from services.search.app.metrics import ProjectionMetrics
from shared.logging import configure_logging

log = logging.getLogger("taskstream.search.rebuild")


async def end_offsets(projector: Projector) -> dict[int, int]:
    await projector.sync_partitions()
    ends = await projector.consumer.end_offsets(list(projector.consumer.assignment()))
    return {tp.partition: offset for tp, offset in ends.items()}


async def build_index(settings: Settings) -> TaskIndex:
    """A complete, committed index of the topic as of now, in a fresh directory."""
    build_dir = new_build_dir(storage_dir(settings.index_dir, settings.index_storage_dir))
    index = TaskIndex.create(
        build_dir, topic=settings.task_events_topic, heap_bytes=settings.writer_heap_bytes
    )
    consumer, writer = make_consumer(settings), writer_thread()
    try:
        await consumer.start()
        projector = Projector(
            settings=settings,
            index=index,
            consumer=consumer,
            writer=writer,
            metrics=ProjectionMetrics(CollectorRegistry()),
            invalidator=None,
        )
        await projector.replay_to(await end_offsets(projector))
    finally:
        await consumer.stop()
        writer.shutdown()
        index.close()
    return index


async def rebuild(settings: Settings) -> None:
    started = time.perf_counter()
    index = await build_index(settings)
    final = finish_build(index.path)
    swap_current(settings.index_dir, final)
    seconds = time.perf_counter() - started
    log.info(
        "index rebuilt and swapped in",
        extra={"index_path": str(final), "offsets": index.offsets, "seconds": round(seconds, 3)},
    )


def main() -> int:
    settings = Settings()
    configure_logging(service="search-rebuild", level=settings.log_level)
    retain_freed_memory()
    asyncio.run(rebuild(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
