"""A replay bumps users' cache versions once, when it catches up, not after every commit."""

import asyncio
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from prometheus_client import CollectorRegistry

from services.search.app import consumer as consumer_module
from services.search.app.config import Settings
from services.search.app.consumer import Projector, writer_thread
from services.search.app.index import TaskIndex
from services.search.app.metrics import ProjectionMetrics
from services.search.tests.factories import record, task_event

SECRET = "k" * 8 + "unit-test-signing-key-0123456789"
TOPIC = "events"
HEAP = 15_000_000


class BacklogConsumer:
    """Stands in for ``AIOKafkaConsumer``: one partition, a backlog handed out ``batch`` at a
    time, then nothing (caught up)."""

    def __init__(self, backlog: list[ConsumerRecord[bytes, bytes]], *, batch: int) -> None:
        self.backlog = backlog
        self.batch = batch
        self.assigned: set[TopicPartition] = set()
        cluster = SimpleNamespace(partitions_for_topic=lambda topic: {0})

        async def fetch_all_metadata() -> SimpleNamespace:
            return cluster

        self._client = SimpleNamespace(fetch_all_metadata=fetch_all_metadata)

    def assignment(self) -> set[TopicPartition]:
        return self.assigned

    def assign(self, partitions: list[TopicPartition]) -> None:
        self.assigned = set(partitions)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.backlog = [r for r in self.backlog if r.offset >= offset]

    def highwater(self, tp: TopicPartition) -> None:
        return None

    async def getmany(
        self, *, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        await asyncio.sleep(0)
        taken = self.backlog[: min(self.batch, max_records)]
        self.backlog = self.backlog[len(taken) :]
        return {TopicPartition(TOPIC, 0): taken} if taken else {}


class RecordingInvalidator:
    def __init__(self) -> None:
        self.calls: list[set[str]] = []

    def invalidate(self, owners: set[str]) -> None:
        if owners:
            self.calls.append(set(owners))


@pytest.fixture
def index(tmp_path: Path) -> Iterator[TaskIndex]:
    created = TaskIndex.create(tmp_path / "index-1", topic=TOPIC, heap_bytes=HEAP)
    yield created
    created.close()


def projector(
    index: TaskIndex, consumer: BacklogConsumer, invalidator: RecordingInvalidator
) -> Projector:
    # Two records per commit while replaying, so the backlog takes several commits.
    settings = Settings(internal_signing_secret=SECRET, commit_max_events=2, watch_interval_ms=50)
    return Projector(
        settings=settings,
        index=index,
        consumer=consumer,
        writer=writer_thread(),
        metrics=ProjectionMetrics(CollectorRegistry()),
        invalidator=invalidator,  # type: ignore[arg-type]
    )


async def run_until_caught_up(
    replaying: Projector, index: TaskIndex, monkeypatch: pytest.MonkeyPatch
) -> list[int]:
    """Run the projector until it catches up; the commits made before that moment."""
    caught_up = asyncio.Event()
    commits_before: list[int] = []
    real_commit = index.commit

    def counting_commit() -> object:
        if not caught_up.is_set():
            commits_before.append(1)
        return real_commit()

    monkeypatch.setattr(index, "commit", counting_commit)
    monkeypatch.setattr(consumer_module, "current_target", lambda _: index.path)
    running = asyncio.create_task(replaying.run(on_caught_up=caught_up.set))
    await asyncio.wait_for(caught_up.wait(), 10)
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    return commits_before


async def test_a_replay_bumps_every_changed_user_once_when_it_catches_up(
    index: TaskIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    owners = ["alice", "bob", "carol", "alice", "dave", "bob"]
    backlog = [record(n, f"t{n}", owner_id=owner) for n, owner in enumerate(owners)]
    invalidator = RecordingInvalidator()
    replaying = projector(index, BacklogConsumer(backlog, batch=2), invalidator)

    commits = await run_until_caught_up(replaying, index, monkeypatch)

    assert len(commits) == 3
    assert invalidator.calls == [{"alice", "bob", "carol", "dave"}]


async def test_users_a_crash_left_unbumped_are_bumped_at_the_next_catch_up(
    index: TaskIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A replay that committed and then died before catching up: nothing was bumped.
    index.stage(partition=0, offset=0, event=task_event("t0", owner_id="erin"))
    index.commit()
    index.close()
    reopened = TaskIndex.open(tmp_path / "index-1", topic=TOPIC, heap_bytes=HEAP)
    invalidator = RecordingInvalidator()
    backlog = [record(1, "t1", owner_id="frank")]
    replaying = projector(reopened, BacklogConsumer(backlog, batch=2), invalidator)

    await run_until_caught_up(replaying, reopened, monkeypatch)

    assert invalidator.calls == [{"erin", "frank"}]


async def test_live_commits_bump_their_users_at_once(index: TaskIndex) -> None:
    invalidator = RecordingInvalidator()
    consumer = BacklogConsumer([record(0, "t1", owner_id="alice")], batch=1)
    consumer.assign([TopicPartition(TOPIC, 0)])
    live = projector(index, consumer, invalidator)
    live.live = True

    assert await live.project_once() == 1
    assert invalidator.calls == [{"alice"}]


async def test_a_long_replay_bumps_once_it_holds_too_many_users(
    index: TaskIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consumer_module, "MAX_UNBUMPED_OWNERS", 2)
    owners = ["alice", "bob", "carol", "dave", "erin", "frank"]
    backlog = [record(n, f"t{n}", owner_id=owner) for n, owner in enumerate(owners)]
    invalidator = RecordingInvalidator()
    replaying = projector(index, BacklogConsumer(backlog, batch=1), invalidator)

    await run_until_caught_up(replaying, index, monkeypatch)

    # Commits of two: the second leaves four users unbumped, over the limit of two; the
    # third's two wait for the catch-up.
    assert invalidator.calls == [{"alice", "bob", "carol", "dave"}, {"erin", "frank"}]
