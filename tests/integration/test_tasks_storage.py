"""What the tasks service leaves in FerretDB and Kafka: indexes, the outbox, the topic."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from services.tasks.app.config import Settings
from services.tasks.app.mongo_store import INDEXES
from services.tasks.app.queries import SortOrder, list_filter
from services.tasks.app.schemas import ListQuery
from tests.integration.harness import System
from tests.support.tasks import TASKS, TasksUser

pytestmark = pytest.mark.integration
Document = dict[str, Any]


@pytest.fixture
async def user(system: System) -> AsyncIterator[TasksUser]:
    async with httpx.AsyncClient(base_url=system.one("tasks").url, timeout=30) as http:
        yield TasksUser(system, http)


@pytest.fixture
async def tasks_collection(system: System) -> AsyncIterator[AsyncCollection[Document]]:
    settings = Settings(
        mongodb_url=system.env["MONGODB_URL"],
        internal_signing_secret=system.env["INTERNAL_SIGNING_SECRET"],
    )
    client: AsyncMongoClient[Document] = AsyncMongoClient(settings.mongodb_url, tz_aware=True)
    try:
        yield client[settings.mongodb_database]["tasks"]
    finally:
        await client.close()


async def wait_for_document(
    tasks: AsyncCollection[Document], task_id: str, *, gone: bool = False
) -> Document | None:
    """The task document once its outbox is empty (or, with ``gone``, once it is removed)."""
    async with asyncio.timeout(30):
        while True:
            doc = await tasks.find_one({"_id": task_id})
            if gone and doc is None:
                return None
            if not gone and doc is not None and doc["pending_events"] == []:
                return doc
            await asyncio.sleep(0.05)


async def test_every_list_index_exists(tasks_collection: AsyncCollection[Document]) -> None:
    names = {index["name"] async for index in await tasks_collection.list_indexes()}
    assert {model.document["name"] for model in INDEXES} <= names


async def test_list_queries_explain(
    user: TasksUser, tasks_collection: AsyncCollection[Document]
) -> None:
    """MongoDB names the index it picks. FerretDB v1 on SQLite gives SQLite's plan and its
    pushdown flags instead; stock v1 pushed down only a bare ``_id`` filter (``SCAN <table>``
    for every list), our build (deploy/local/ferretdb/) pushes the owner equality down, so
    SQLite searches one of the owner indexes."""
    task = await user.create(title="explained", tags=["x"])
    shapes = [
        ListQuery(),
        ListQuery(status="todo", sort="-priority"),
        ListQuery(tag="x", sort="due_date"),
    ]
    for query in shapes:
        order = SortOrder.parse(query.sort)
        cursor = tasks_collection.find(list_filter(user.user_id, query), sort=order.mongo_sort())
        plan = await cursor.limit(query.limit + 1).explain()
        if "winningPlan" in plan["queryPlanner"]:
            assert "IXSCAN" in str(plan["queryPlanner"]["winningPlan"]), plan
        else:
            assert plan["serverInfo"]["ferretdbVersion"].startswith("v1.")
            assert plan["filterPushdown"] is True
            assert "USING INDEX" in str(plan["queryPlanner"]), plan
            assert "_owner_" in str(plan["queryPlanner"]), plan
    by_id = await tasks_collection.find({"_id": task["id"]}).explain()
    if "ferretdbVersion" in by_id["serverInfo"]:
        assert by_id["filterPushdown"] is True
        assert "USING INDEX" in str(by_id["queryPlanner"]), by_id
    else:
        assert "IDHACK" in str(by_id["queryPlanner"]["winningPlan"]) or "EXPRESS" in str(by_id)


async def test_published_events_leave_the_document(
    user: TasksUser, tasks_collection: AsyncCollection[Document]
) -> None:
    task = await user.create(title="outbox")
    await user.patch(task["id"], {"title": "outbox 2"})
    doc = await wait_for_document(tasks_collection, task["id"])
    assert doc is not None
    assert doc["version"] == 2
    assert doc["owner_id"] == user.user_id
    # Nothing pending any more, so the sweeper's query no longer matches it.
    assert doc["outbox_pending"] is False


async def test_a_deleted_task_stays_as_a_tombstone_only_until_published(
    user: TasksUser, tasks_collection: AsyncCollection[Document]
) -> None:
    task = await user.create(title="to delete")
    assert (await user.call("DELETE", f"{TASKS}/{task['id']}")).status_code == 204
    assert await wait_for_document(tasks_collection, task["id"], gone=True) is None
    assert (await user.call("GET", f"{TASKS}/{task['id']}")).status_code == 404


async def test_topic_is_compacted_with_the_configured_partitions(system: System) -> None:
    topic = system.env["KAFKA_TASK_EVENTS_TOPIC"]
    admin = AIOKafkaAdminClient(bootstrap_servers=system.env["KAFKA_BOOTSTRAP_SERVERS"])
    await admin.start()
    try:
        resource = ConfigResource(ConfigResourceType.TOPIC, topic)
        [response] = await admin.describe_configs([resource])
        configs = {entry[0]: entry[1] for entry in response.resources[0][4]}
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    assert configs["cleanup.policy"] == "compact"
    assert len(described["partitions"]) == Settings.model_fields["topic_partitions"].default
