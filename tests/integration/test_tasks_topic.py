"""The tasks service creates task-events as configured, and leaves a declared topic alone.

On Kubernetes, Strimzi's KafkaTopic declares the topic; AlterConfigs replaces every setting of
a topic, so the service must only ever alter one that is not compacted yet.
"""

import secrets
from collections.abc import AsyncIterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.tasks.app.config import Settings
from services.tasks.app.kafka import ensure_topic
from tests.integration.test_stack import KAFKA, topic_configs, unique

pytestmark = pytest.mark.integration


@pytest.fixture
async def kafka_admin() -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


@pytest.fixture
async def topic_name(kafka_admin: AIOKafkaAdminClient) -> AsyncIterator[str]:
    name = unique("tasks-topic")
    yield name
    await kafka_admin.delete_topics([name])


def settings_for(topic: str) -> Settings:
    return Settings(
        KAFKA_BOOTSTRAP_SERVERS=KAFKA,
        KAFKA_TASK_EVENTS_TOPIC=topic,
        INTERNAL_SIGNING_SECRET=secrets.token_urlsafe(48),
        topic_partitions=2,
        topic_min_insync_replicas=1,
    )


async def test_a_new_topic_gets_the_configured_partitions_and_settings(
    kafka_admin: AIOKafkaAdminClient, topic_name: str
) -> None:
    await ensure_topic(settings_for(topic_name))

    [described] = await kafka_admin.describe_topics([topic_name])
    configs = await topic_configs(kafka_admin, topic_name)
    assert len(described["partitions"]) == 2
    assert configs["cleanup.policy"] == "compact"
    assert configs["min.insync.replicas"] == "1"


async def test_a_topic_created_with_delete_retention_is_compacted(
    kafka_admin: AIOKafkaAdminClient, topic_name: str
) -> None:
    await kafka_admin.create_topics([NewTopic(topic_name, 1, 1)])

    await ensure_topic(settings_for(topic_name))

    assert (await topic_configs(kafka_admin, topic_name))["cleanup.policy"] == "compact"


async def test_a_declared_compacted_topic_keeps_every_setting_it_was_given(
    kafka_admin: AIOKafkaAdminClient, topic_name: str
) -> None:
    declared = {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}
    await kafka_admin.create_topics([NewTopic(topic_name, 1, 1, topic_configs=declared)])

    await ensure_topic(settings_for(topic_name))

    assert (await topic_configs(kafka_admin, topic_name))["min.compaction.lag.ms"] == "60000"
