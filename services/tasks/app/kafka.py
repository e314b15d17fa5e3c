"""The Kafka side of the tasks service: the compacted topic and the idempotent producer."""

import asyncio
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code

from services.tasks.app.config import Settings
from shared.events import CLOUDEVENTS_CONTENT_TYPE

log = logging.getLogger("taskstream.tasks.kafka")
CONNECT_BACKOFF_MAX_SECONDS = 5.0
CLOSE_TIMEOUT_SECONDS = 2.0


def topic_config(settings: Settings) -> dict[str, str]:
    return {
        "cleanup.policy": "compact",
        "min.insync.replicas": str(settings.topic_min_insync_replicas),
    }


async def ensure_topic(settings: Settings) -> None:
    """Create the events topic compacted; if something else created it first, compact it."""
    wanted = topic_config(settings)
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers, request_timeout_ms=5000
    )
    await admin.start()
    try:
        topic = NewTopic(
            name=settings.task_events_topic,
            num_partitions=settings.topic_partitions,
            replication_factor=settings.topic_replication_factor,
            topic_configs=wanted,
        )
        response = await admin.create_topics([topic])
        for _topic, code, *_rest in response.topic_errors:
            if code == TopicAlreadyExistsError.errno:
                await _make_compacted(admin, settings.task_events_topic, wanted)
            elif code:
                raise for_code(code)()
    finally:
        await admin.close()


async def _make_compacted(admin: AIOKafkaAdminClient, topic: str, wanted: dict[str, str]) -> None:
    # A consumer's auto-creation may have won the race with default (delete) retention. Only
    # then: AlterConfigs replaces every setting of the topic, so altering a topic an operator
    # declared (Strimzi's KafkaTopic) would drop its other settings.
    [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    current = {entry[0]: entry[1] for entry in response.resources[0][4]}
    if current.get("cleanup.policy") == "compact":
        return
    resource = ConfigResource(ConfigResourceType.TOPIC, topic, configs=wanted)
    await admin.alter_configs([resource])


def new_producer(settings: Settings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_idempotence=True,
        acks="all",
        linger_ms=0,
        request_timeout_ms=int(settings.publish_timeout_seconds * 1000),
        client_id="taskstream-tasks-relay",
    )


async def connect_producer(settings: Settings) -> AIOKafkaProducer:
    """Ensure the topic and start a producer, retrying until Kafka answers.

    The service accepts writes meanwhile: their events wait in the outbox.
    """
    backoff = 0.2
    while True:
        producer = new_producer(settings)
        try:
            await ensure_topic(settings)
            await producer.start()
        except (KafkaError, OSError) as exc:
            await producer.stop()
            log.warning("kafka unavailable, retrying", extra={"error": type(exc).__name__})
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, CONNECT_BACKOFF_MAX_SECONDS)
            continue
        return producer


def record_headers(traceparent: str) -> list[tuple[str, bytes]]:
    headers = [("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())]
    if traceparent:
        headers.append(("traceparent", traceparent.encode()))
    return headers


class KafkaProducers:
    """The outbox relay's producers: connected when Kafka answers, closed without a flush."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def connect(self) -> AIOKafkaProducer:
        return await connect_producer(self._settings)

    async def close(self, producer: AIOKafkaProducer) -> None:
        # Stopping flushes what is still buffered; with Kafka gone that would wait for every
        # batch to expire, and those events are still in the outbox anyway: drop them.
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_SECONDS):
                await producer.stop()
        except TimeoutError:
            await producer._sender.close()  # aiokafka has no public "close without flush"
            await producer.client.close()
        except (KafkaError, OSError) as exc:
            log.warning("kafka producer did not close cleanly", extra={"error": repr(exc)})
