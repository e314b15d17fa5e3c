"""Readiness probes: each does a real round trip through the server, not just a connect.

A probe returns when the server answered correctly and raises on anything else.
"""

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import httpx
import redis.asyncio as aioredis
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient

READY_TOPIC = "_stack_ready"
CHECK_DATABASE = "_stack_check"
READY_ISSUER = "stack-ready"
# Kafka's TOPIC_ALREADY_EXISTS: every probe after the first finds the topic there.
_TOPIC_EXISTS = 36


class NotReady(Exception):
    """The server answered, but not yet the way a ready one does."""


class Died(Exception):
    """The server process exited while we waited for it to become ready."""


class NotReadyInTime(Exception):
    """The server kept running but never answered a probe before the deadline."""


async def wait_until_ready(
    probe: Callable[[], Awaitable[None]], *, alive: Callable[[], bool], give_up_after: float
) -> None:
    """Probe until one round trip succeeds; give up if the process dies or time runs out."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + give_up_after
    while True:
        if not alive():
            raise Died
        try:
            await asyncio.wait_for(probe(), timeout=max(1.0, min(10.0, deadline - loop.time())))
        # Any failure (refused, timeout, protocol error, NotReady) means "not yet" for now.
        except Exception as exc:
            if loop.time() >= deadline:
                raise NotReadyInTime(f"last probe: {exc!r}") from exc
            await asyncio.sleep(0.5)
        else:
            return


async def probe_kafka(bootstrap: str) -> None:
    """Create (or find) a topic through the controller, then see it has a leader."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="taskstream-stack", request_timeout_ms=5000
    )
    try:
        await admin.start()
        created = await admin.create_topics([NewTopic(READY_TOPIC, 1, 1)])
        codes = {code for _, code, *_ in created.topic_errors}
        if not codes <= {0, _TOPIC_EXISTS}:
            raise NotReady(f"create_topics error codes {sorted(codes)}")
        (topic,) = await admin.describe_topics([READY_TOPIC])
        leaders = [p["leader"] for p in topic["partitions"]]
        if topic["error_code"] or not leaders or min(leaders) < 0:
            raise NotReady(f"{READY_TOPIC} has no leader yet")
    finally:
        await admin.close()


async def probe_mongo(url: str) -> None:
    """Ping, then write a document and read it back."""
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        url, serverSelectionTimeoutMS=2000, connectTimeoutMS=2000, socketTimeoutMS=5000
    )
    try:
        await client.admin.command("ping")
        probes = client[CHECK_DATABASE]["probes"]
        token = uuid.uuid4().hex
        await probes.insert_one({"_id": token})
        if await probes.find_one({"_id": token}) is None:
            raise NotReady("inserted probe document not found")
        await probes.delete_one({"_id": token})
    finally:
        await client.close()


async def probe_redis(url: str) -> None:
    client = aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        if not await client.ping():
            raise NotReady("PING did not answer PONG")
    finally:
        await client.aclose()


async def probe_oidc_provider(base_url: str) -> None:
    """Fetch an issuer's discovery document and check it names that issuer and its JWKS."""
    issuer = f"{base_url}/{READY_ISSUER}"
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.get(f"{issuer}/.well-known/openid-configuration")
        response.raise_for_status()
        document = response.json()
        if document.get("issuer") != issuer:
            raise NotReady(f"discovery names issuer {document.get('issuer')!r}")
        (await client.get(document["jwks_uri"])).raise_for_status()
