"""What the Kafka cluster fault tests share: a paced write load, the brokers, and the counts.

Every write is one task creation through the gateway, so one acknowledged write is one event
(`version` 1) and one search hit for the run's word; counting each side tells lost from
duplicated.
"""

import asyncio
import json
import os
import signal
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from deploy.local._stack_config import StackConfig
from deploy.local._stack_process import running_pid
from shared.events import decode_event
from tests.integration.harness import LOG_DIR, System, stack_command
from tests.support.accounts import Account
from tests.support.polling import Observation, eventually
from tests.support.search import search_total

RATE_PER_S = 100.0
RESULTS = LOG_DIR / "kafka-cluster-results.jsonl"


@dataclass
class Write:
    started: float
    seconds: float
    task_id: str | None
    error: str | None


@dataclass
class PacedLoad:
    """Task creations at a steady rate, each in flight on its own, every outcome kept."""

    client: httpx.AsyncClient
    account: Account
    word: str
    writes: list[Write] = field(default_factory=list)

    async def run(self, stop: asyncio.Event, rate: float = RATE_PER_S) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        in_flight: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            in_flight.add(asyncio.create_task(self._write()))
            in_flight = {task for task in in_flight if not task.done()}
            next_at += 1.0 / rate
            await asyncio.sleep(max(0.0, next_at - loop.time()))
        await asyncio.gather(*in_flight)

    async def _write(self) -> None:
        started = time.monotonic()
        try:
            response = await self.client.post(
                "/api/v1/tasks", json={"title": f"{self.word} item"}, headers=self.account.headers
            )
        except httpx.HTTPError as exc:
            self.writes.append(Write(started, time.monotonic() - started, None, repr(exc)))
            return
        seconds = time.monotonic() - started
        if response.status_code == 201:
            self.writes.append(Write(started, seconds, response.json()["id"], None))
        else:
            error = f"{response.status_code} {response.text[:120]}"
            self.writes.append(Write(started, seconds, None, error))

    @property
    def acknowledged(self) -> list[str]:
        return [write.task_id for write in self.writes if write.task_id]

    @property
    def errors(self) -> list[str]:
        return [write.error for write in self.writes if write.error]

    def p99_ms(self, since: float, until: float) -> float:
        window = [w.seconds * 1000 for w in self.writes if since <= w.started <= until]
        if len(window) < 2:
            return max(window, default=0.0)
        return statistics.quantiles(window, n=100)[98]


def cluster() -> StackConfig:
    config = StackConfig.from_env()
    assert config.kafka_brokers >= 3, "run with KAFKA_BROKERS=3 (make test-kafka-cluster)"
    return config


async def describe_topic(system: System) -> dict[str, Any]:
    """The run's events topic as the cluster describes it: partitions, leaders, ISRs."""
    admin = AIOKafkaAdminClient(bootstrap_servers=system.env["KAFKA_BOOTSTRAP_SERVERS"])
    try:
        await admin.start()
        [topic] = await admin.describe_topics([system.env["KAFKA_TASK_EVENTS_TOPIC"]])
    finally:
        await admin.close()
    described: dict[str, Any] = topic
    return described


async def leader_of(system: System, partition: int = 0) -> int:
    """The node id leading one partition of the run's events topic."""
    topic = await describe_topic(system)
    leaders = {p["partition"]: p["leader"] for p in topic["partitions"]}
    return int(leaders[partition])


async def fully_replicated(system: System) -> Observation:
    """Every partition of the events topic has all its replicas in sync."""
    try:
        topic = await describe_topic(system)
    except Exception as exc:  # the cluster may still be electing: not yet
        return False, repr(exc)
    lagging = [p["partition"] for p in topic["partitions"] if set(p["isr"]) != set(p["replicas"])]
    return not lagging and bool(topic["partitions"]), {"under-replicated": lagging}


def sigkill(config: StackConfig, node: int) -> None:
    pid = running_pid(config.pid_file(config.kafka_component(node)))
    assert pid is not None, f"broker {node} is not running"
    os.kill(pid, signal.SIGKILL)


async def stack(*args: str) -> None:
    await asyncio.to_thread(stack_command, *args)


async def events_per_task(system: System, task_ids: set[str]) -> Counter[str]:
    """How many events each acknowledged task has on the topic, read from the start to its end."""
    topic = system.env["KAFKA_TASK_EVENTS_TOPIC"]
    described = await describe_topic(system)
    partitions = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
    assert partitions, f"{topic} has no partitions"
    consumer = AIOKafkaConsumer(
        bootstrap_servers=system.env["KAFKA_BOOTSTRAP_SERVERS"], enable_auto_commit=False
    )
    await consumer.start()
    counts: Counter[str] = Counter()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while await _behind(consumer, ends):
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    subject = decode_event(record.value).subject
                    if subject in task_ids:
                        counts[subject] += 1
    finally:
        await consumer.stop()
    return counts


async def _behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for partition, end in ends.items():
        if await consumer.position(partition) < end:
            return True
    return False


async def searchable(load: PacedLoad, *, within: float) -> float:
    """Seconds until search finds exactly the acknowledged writes (fails on more: duplicates)."""
    expected = len(load.acknowledged)

    async def complete() -> Observation:
        found = await search_total(load.client, load.account, load.word)
        assert found <= expected, f"search finds {found} tasks for {expected} writes"
        return found == expected, {"expected": expected, "found": found}

    return await eventually(complete, within=within, interval=0.5)


def record(name: str, figures: dict[str, object]) -> None:
    """Figures for the report: printed (run with -s) and appended to the results file."""
    line = json.dumps({"test": name, **figures})
    print(line)
    Path(RESULTS).parent.mkdir(parents=True, exist_ok=True)
    with Path(RESULTS).open("a") as results:
        results.write(line + "\n")
