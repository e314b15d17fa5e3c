"""Live events: fan-out to the owner only, resume from a position, resets, heartbeats, access."""

import asyncio
from collections.abc import AsyncGenerator

from aiokafka import ConsumerRecord

from services.tasks.app.live import LiveEvents, StreamTiming, event_stream, parse_position
from shared.events import TaskCloudEvent, TaskEventType, TaskSnapshot

FAST = StreamTiming(heartbeat_seconds=0.05, check_seconds=0.02)
NOW = "2026-01-01T00:00:00Z"


def task_event_bytes(*, task_id: str, owner_id: str, version: int) -> bytes:
    snapshot = TaskSnapshot.model_validate(
        {"id": task_id, "owner_id": owner_id, "title": "x", "status": "todo",
         "priority": "low", "created_at": NOW, "updated_at": NOW, "version": version}
    )  # fmt: skip
    kind = TaskEventType.created if version == 1 else TaskEventType.updated
    event = TaskCloudEvent(
        id=f"{task_id}-{version}", type=kind, subject=task_id, time=NOW, data=snapshot
    )
    return event.model_dump_json().encode()


def live_with(partitions: int, buffer: int = 100) -> LiveEvents:
    live = LiveEvents(bootstrap="unused:1", topic="t", buffer_events=buffer)
    live._position = [0] * partitions
    live._covered_from = [0] * partitions
    live.ready.set()
    return live


def record(
    partition: int, offset: int, owner: str, task: str, version: int
) -> ConsumerRecord[bytes, bytes]:
    value = task_event_bytes(task_id=task, owner_id=owner, version=version)
    return ConsumerRecord(
        topic="t", partition=partition, offset=offset, timestamp=0, timestamp_type=0,
        key=task.encode(), value=value, checksum=None, serialized_key_size=0,
        serialized_value_size=len(value), headers=[],
    )  # fmt: skip


async def allowed() -> bool:
    return True


async def first_chunks(stream: AsyncGenerator[bytes], count: int) -> list[bytes]:
    return [await asyncio.wait_for(anext(stream), 1) for _ in range(count)]


def stream_for(live: LiveEvents, owner: str, last: str | None = None) -> AsyncGenerator[bytes]:
    return event_stream(
        live, owner_id=owner, last_event_id=last, still_allowed=allowed, timing=FAST
    )


async def test_an_owner_receives_their_events_with_resumable_ids_and_nobody_elses() -> None:
    live = live_with(2)
    mine, theirs = stream_for(live, "u1"), stream_for(live, "u2")
    assert await anext(mine) == b"retry: 2000\n\n"
    await anext(theirs)
    live._take(1, record(1, 0, "u1", "t1", 1))
    live._take(0, record(0, 0, "u2", "t2", 1))
    chunk = await asyncio.wait_for(anext(mine), 1)
    assert chunk.startswith(b"event: taskstream.task.created\nid: 0.1\ndata: {")
    assert b'"owner_id"' not in chunk
    assert b'"t1"' in chunk
    other = await asyncio.wait_for(anext(theirs), 1)
    assert b'"t2"' in other
    assert b"id: 1.1" in other
    await mine.aclose()
    await theirs.aclose()
    assert live.open_streams == 0


async def test_a_reconnect_with_last_event_id_gets_exactly_what_it_missed() -> None:
    live = live_with(2)
    live._take(0, record(0, 0, "u1", "a", 1))
    live._take(1, record(1, 0, "u1", "b", 1))
    live._take(0, record(0, 1, "u2", "c", 1))
    live._take(0, record(0, 2, "u1", "a", 2))
    resumed = stream_for(live, "u1", last="1.0")  # had seen "a" v1 only
    (head,) = await first_chunks(resumed, 1)
    assert head.count(b"event:") == 2
    assert b'"b"' in head
    assert b'"version":2' in head
    assert b'"c"' not in head
    await resumed.aclose()


async def test_a_resume_point_older_than_the_buffer_or_not_ours_says_reset() -> None:
    live = live_with(1, buffer=2)
    for offset in range(5):
        live._take(0, record(0, offset, "u1", f"t{offset}", 1))
    for last in ("1", "garbage", "1.2"):
        stream = stream_for(live, "u1", last=last)
        (head,) = await first_chunks(stream, 1)
        assert b"event: reset" in head, last
        await stream.aclose()


async def test_quiet_streams_get_heartbeats_and_end_when_access_ends() -> None:
    live = live_with(1)
    still = True

    async def check() -> bool:
        return still

    stream = event_stream(live, owner_id="u1", last_event_id=None, still_allowed=check, timing=FAST)
    await anext(stream)
    assert await asyncio.wait_for(anext(stream), 1) == b": heartbeat\n\n"
    still = False
    chunks = [chunk async for chunk in stream]
    assert all(chunk == b": heartbeat\n\n" for chunk in chunks)


def test_positions_are_one_offset_per_partition() -> None:
    assert parse_position("3.0.12", 3) == (3, 0, 12)
    assert parse_position("3.0", 3) is None
    assert parse_position("-1.0.0", 3) is None
    assert parse_position(None, 3) is None
