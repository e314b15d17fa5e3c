"""The local stack is the real thing: Kafka, FerretDB and Redis answer like production would.

Runs against whatever stack the environment points at (``make test`` sets the test stack).
"""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from tests.support.polling import Observation, eventually

pytestmark = pytest.mark.integration

KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
MONGODB_URL = os.environ.get("MONGODB_URL", "mongodb://127.0.0.1:27017/taskstream")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def kafka_admin() -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


@pytest.fixture
async def topic(kafka_admin: AIOKafkaAdminClient) -> AsyncIterator[str]:
    name = unique("stack-test")
    await kafka_admin.create_topics([NewTopic(name, 1, 1)])
    try:
        yield name
    finally:
        await kafka_admin.delete_topics([name])


async def test_kafka_produces_and_consumes_through_the_broker(topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all")
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, b"hello", key=b"task-1")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=KAFKA, group_id=unique("stack-test"), auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        received = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()
    assert (received.key, received.value, received.offset) == (b"task-1", b"hello", sent.offset)


async def topic_configs(admin: AIOKafkaAdminClient, topic: str) -> dict[str, str]:
    """A topic's configs, once the broker has caught up with the controller that created it."""
    resource = ConfigResource(ConfigResourceType.TOPIC, topic)
    configs: dict[str, str] = {}

    async def described() -> Observation:
        (answer,) = await admin.describe_configs([resource])
        ((error_code, _, _, _, entries),) = answer.resources
        configs.update({entry[0]: entry[1] for entry in entries} if error_code == 0 else {})
        return error_code == 0, f"describe_configs({topic}) error {error_code}"

    await eventually(described, within=10.0, interval=0.2)
    return configs


async def test_kafka_compacted_topic_reports_its_cleanup_policy(
    kafka_admin: AIOKafkaAdminClient,
) -> None:
    name = unique("stack-compacted")
    compacted = NewTopic(name, 1, 1, topic_configs={"cleanup.policy": "compact"})
    created = await kafka_admin.create_topics([compacted])
    try:
        assert [code for _, code, *_ in created.topic_errors] == [0]
        configs = await topic_configs(kafka_admin, name)
        assert configs["cleanup.policy"] == "compact"
    finally:
        await kafka_admin.delete_topics([name])


async def test_ferretdb_inserts_finds_and_enforces_a_unique_index() -> None:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(MONGODB_URL)
    database = unique("stack_test").replace("-", "_")
    try:
        users = client[database]["users"]
        await users.create_index("email", unique=True)
        inserted = await users.insert_one({"email": "ada@example.test", "name": "Ada"})
        found = await users.find_one({"email": "ada@example.test"})
        assert found == {"_id": inserted.inserted_id, "email": "ada@example.test", "name": "Ada"}
        with pytest.raises(DuplicateKeyError):
            await users.insert_one({"email": "ada@example.test", "name": "Impostor"})
        assert await users.count_documents({}) == 1
    finally:
        await client.drop_database(database)
        await client.close()


async def test_redis_runs_a_lua_script() -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    key = unique("stack-test")
    script = "return redis.call('INCRBY', KEYS[1], ARGV[1]) * 2"
    try:
        doubled = await client.eval(script, 1, key, 21)
        assert doubled == 42
        assert await client.get(key) == b"21"
    finally:
        await client.delete(key)
        await client.aclose()
