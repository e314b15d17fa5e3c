"""The tasks service: tasks created through the gateway, signed calls straight to the service,
and reading its events topic."""

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord

from shared.events import TaskCloudEvent, decode_event
from shared.identity import Identity
from tests.integration.harness import System
from tests.support.accounts import Account
from tests.support.identities import SignedAs

TASKS = "/api/v1/tasks"


async def create_task(client: httpx.AsyncClient, account: Account, **fields: Any) -> dict[str, Any]:
    """Create a task through the gateway ``client`` as ``account``."""
    body = {"title": "a task", **fields}
    response = await client.post(TASKS, json=body, headers=account.headers)
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()
    return task


class TasksUser:
    """One user's signed calls straight to the tasks service."""

    def __init__(self, system: System, client: httpx.AsyncClient) -> None:
        self.system = system
        self.client = client
        self.user_id = f"user-{uuid.uuid4().hex}"

    async def call(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        identity = Identity(user_id=self.user_id, via="jwt")
        return await self.client.request(
            method, path, headers=headers, auth=SignedAs(self.system, identity), **kwargs
        )

    async def create(self, **fields: Any) -> dict[str, Any]:
        response = await self.call("POST", TASKS, json={"title": "a task", **fields})
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def patch(self, task_id: str, patch: object, **headers: str) -> httpx.Response:
        return await self.call(
            "PATCH",
            f"{TASKS}/{task_id}",
            json=patch,
            headers={"Content-Type": "application/merge-patch+json", **headers},
        )

    async def list(self, **params: Any) -> httpx.Response:
        return await self.call("GET", TASKS, params=params)


async def task_events(
    system: System, *, until: Callable[[list[ConsumerRecord]], bool], within: float
) -> list[ConsumerRecord]:
    """Read the run's topic from the start until ``until(records)`` holds; fail after ``within``.

    Kafka may be restarting (a fault test), so connecting is retried within the same time.
    """
    records: list[ConsumerRecord] = []
    try:
        async with asyncio.timeout(within):
            consumer = await started_consumer(system)
            try:
                while not until(records):
                    batches = await consumer.getmany(timeout_ms=200)
                    records.extend(record for batch in batches.values() for record in batch)
            finally:
                await consumer.stop()
    except TimeoutError:
        pytest.fail(f"events not complete within {within}s; saw {len(records)} records")
    return records


async def started_consumer(system: System) -> AIOKafkaConsumer:
    while True:
        consumer = AIOKafkaConsumer(
            system.env["KAFKA_TASK_EVENTS_TOPIC"],
            bootstrap_servers=system.env["KAFKA_BOOTSTRAP_SERVERS"],
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        try:
            await consumer.start()
        except KafkaError:
            await consumer.stop()
            await asyncio.sleep(0.5)
            continue
        return consumer


def events_of(records: list[ConsumerRecord], task_ids: set[str]) -> list[TaskCloudEvent]:
    return [decode_event(r.value) for r in records if r.key and r.key.decode() in task_ids]
