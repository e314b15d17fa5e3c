"""The search service: queries through the gateway and straight to a replica, and events sent
straight to the run's topic. Events bypass the tasks service so that duplicates and
out-of-order versions can be sent on purpose."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from prometheus_client.parser import text_string_to_metric_families

from deploy.local.services import ServiceProcess
from shared.events import (
    CLOUDEVENTS_CONTENT_TYPE,
    TaskCloudEvent,
    TaskEventType,
    TaskSnapshot,
    encode_event,
)
from shared.identity import Identity
from tests.integration.harness import System
from tests.support.accounts import Account
from tests.support.identities import SignedAs
from tests.support.polling import eventually

SEARCH_PATH = "/api/v1/search"
PARTITIONS = 3
VISIBLE_WITHIN_S = 5.0


async def ensure_topic(system: System) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=system.env["KAFKA_BOOTSTRAP_SERVERS"])
    await admin.start()
    try:
        topic = NewTopic(
            system.env["KAFKA_TASK_EVENTS_TOPIC"],
            num_partitions=PARTITIONS,
            replication_factor=1,
            topic_configs={"cleanup.policy": "compact"},
        )
        await admin.create_topics([topic])
    except TopicAlreadyExistsError:
        pass
    finally:
        await admin.close()


@asynccontextmanager
async def open_producer(system: System) -> AsyncIterator[AIOKafkaProducer]:
    await ensure_topic(system)
    kafka = AIOKafkaProducer(
        bootstrap_servers=system.env["KAFKA_BOOTSTRAP_SERVERS"], acks="all", linger_ms=0
    )
    await kafka.start()
    try:
        yield kafka
    finally:
        await kafka.stop()


def task_event(
    task_id: str,
    owner_id: str,
    version: int,
    kind: TaskEventType = TaskEventType.updated,
    **fields: Any,
) -> TaskCloudEvent:
    now = datetime.now(UTC)
    snapshot = TaskSnapshot.model_validate(
        {
            "id": task_id,
            "owner_id": owner_id,
            "title": "untitled",
            "status": "todo",
            "priority": "medium",
            "created_at": now,
            "updated_at": now,
            "version": version,
            **fields,
        }
    )
    return TaskCloudEvent(id=uuid.uuid4().hex, type=kind, subject=task_id, time=now, data=snapshot)


async def publish(producer: AIOKafkaProducer, system: System, *events: TaskCloudEvent) -> None:
    topic = system.env["KAFKA_TASK_EVENTS_TOPIC"]
    headers = [("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())]
    for event in events:
        await producer.send_and_wait(
            topic, encode_event(event), key=event.subject.encode(), headers=headers
        )


def unique_word(prefix: str = "zq") -> str:
    """A token no other task contains, letters only so the search tokenizer keeps it whole."""
    letters = "".join(chr(ord("a") + b % 26) for b in uuid.uuid4().bytes[:10])
    return f"{prefix}{letters}"


async def search_total(client: httpx.AsyncClient, account: Account, query: str) -> int:
    """How many of ``account``'s tasks match ``query``, asked through the gateway ``client``."""
    response = await client.get(
        SEARCH_PATH, params={"q": query, "limit": 100}, headers=account.headers
    )
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


def new_id() -> str:
    return uuid.uuid4().hex


def signed(system: System, user_id: str) -> SignedAs:
    """Sign a direct request to a search replica as ``user_id`` (query included)."""
    return SignedAs(system, Identity(user_id=user_id, via="jwt"))


async def search(
    system: System, user_id: str, replica: ServiceProcess | None = None, **params: Any
) -> dict[str, Any]:
    base = (replica or system.one("search")).url
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        response = await client.get(SEARCH_PATH, params=params, auth=signed(system, user_id))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def ids_for(system: System, user_id: str, q: str, **params: Any) -> list[str]:
    body = await search(system, user_id, q=q, limit=100, **params)
    return [item["task"]["id"] for item in body["items"]]


def comparable(page: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    items = [(i["task"]["id"], i["task"], i["highlights"]) for i in page["items"]]
    return sorted(items, key=lambda item: item[0])


async def wait_for_ids(system: System, user_id: str, q: str, expected: list[str]) -> None:
    async def matches() -> bool:
        return sorted(await ids_for(system, user_id, q)) == sorted(expected)

    await eventually(matches, within=VISIBLE_WITHIN_S, interval=0.02)


def visibility_buckets(metrics_text: str) -> dict[float, float]:
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == "search_event_to_searchable_seconds_bucket":
                buckets[float(sample.labels["le"])] = sample.value
    return buckets


def bucket_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float:
    """Upper bound of the bucket holding the q-quantile of what was observed in between."""
    counts = {bound: after[bound] - before.get(bound, 0.0) for bound in sorted(after)}
    total = counts[float("inf")]
    return next(bound for bound, count in counts.items() if count >= q * total)


async def total_is(system: System, user: str, word: str, expected: int) -> bool:
    return int((await search(system, user, q=word))["total"]) == expected
