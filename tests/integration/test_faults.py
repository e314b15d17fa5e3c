"""Faults in the infrastructure: Kafka, Redis or FerretDB stop while the system is in use.

Every test restarts what it stopped in a ``finally`` and counts: what was acknowledged must come
out the other side (on the topic, searchable), and what was refused must leave no trace.
"""

import asyncio
import time
from collections.abc import Awaitable

import httpx
import pytest

from tests.integration.harness import System, stack_command
from tests.support.accounts import Account, new_account
from tests.support.polling import Observation, eventually
from tests.support.search import unique_word
from tests.support.tasks import create_task
from tests.support.write_stream import (
    RECOVERY_S,
    SEARCH_CATCH_UP_S,
    WriteStream,
    all_finished_and_searchable,
    assert_all_published,
    in_thread,
    while_writing,
)

pytestmark = [pytest.mark.integration, pytest.mark.faults]
DEPENDENCY_DOWN_ANSWER_S = 10.0
REDIS_RECOVERY_S = 15.0


async def test_kafka_outage_loses_no_acknowledged_write(
    stream: WriteStream, system: System
) -> None:
    async def kafka_outage() -> None:
        await in_thread(stack_command, "down", "kafka")
        try:
            await asyncio.sleep(5.0)
        finally:
            await in_thread(stack_command, "up", "kafka")

    await while_writing(stream, kafka_outage)
    assert stream.failures == []
    assert len(stream.acknowledged) >= 10
    await assert_all_published(system, stream)
    await all_finished_and_searchable(stream, within=SEARCH_CATCH_UP_S)


async def test_redis_outage_keeps_serving_and_keeps_seen_revocations(
    client: httpx.AsyncClient,
) -> None:
    active = await new_account(client)
    task = await create_task(client, active, title="during redis outage")
    leaver = await new_account(client)
    assert (await client.post("/api/v1/auth/logout", headers=leaver.headers)).status_code == 204
    assert (await client.get("/api/v1/tasks", headers=leaver.headers)).status_code == 401
    await in_thread(stack_command, "down", "redis")
    try:
        refused = await client.get("/api/v1/tasks", headers=leaver.headers)
        served = await client.get(f"/api/v1/tasks/{task['id']}", headers=active.headers)
    finally:
        await redis_back(client, active)
    assert refused.status_code == 401, refused.text
    assert served.status_code == 200, served.text


async def redis_back(client: httpx.AsyncClient, account: Account) -> None:
    """Restart Redis and wait until logging in (auth's throttle lives in Redis) works again."""
    await in_thread(stack_command, "up", "redis")

    async def logs_in() -> Observation:
        credentials = {"email": account.email, "password": account.password}
        response = await client.post("/api/v1/auth/login", json=credentials)
        return response.status_code == 200, response.text[:300]

    await eventually(logs_in, within=REDIS_RECOVERY_S, interval=0.5)


async def test_a_redis_restart_fails_no_request_after_it(client: httpx.AsyncClient) -> None:
    """A restart kills every pooled Redis connection of every service; the first command on
    each must be retried on a fresh connection, not turned into a 503."""
    account = await new_account(client)
    await in_thread(stack_command, "down", "redis")
    await in_thread(stack_command, "up", "redis")  # returns once Redis answers
    credentials = {"email": account.email, "password": account.password}
    responses = await asyncio.gather(
        client.post("/api/v1/auth/login", json=credentials),  # auth's throttle
        *(client.get("/api/v1/tasks", headers=account.headers) for _ in range(4)),  # gateway
        client.get("/api/v1/tasks/stats", headers=account.headers),  # tasks' cache
        client.get("/api/v1/search", params={"q": "restart"}, headers=account.headers),
    )
    assert [r.status_code for r in responses] == [200] * len(responses), [
        r.text[:200] for r in responses
    ]


async def test_redis_outage_refuses_a_token_revoked_before_it(client: httpx.AsyncClient) -> None:
    # Revoked before the outage but never shown to the gateway since: only Redis knows.
    leaver = await new_account(client)
    bystander = await new_account(client)
    assert (await client.post("/api/v1/auth/logout", headers=leaver.headers)).status_code == 204
    await in_thread(stack_command, "down", "redis")
    try:
        response = await client.get("/api/v1/tasks", headers=leaver.headers)
    finally:
        await redis_back(client, bystander)
    assert response.status_code in (401, 503), response.text


async def test_redis_outage_refuses_an_api_key_deleted_before_it(
    client: httpx.AsyncClient,
) -> None:
    # The gateway cached the key (30 s) and never saw its deletion marker; while Redis is down
    # it must ask auth again once its answer is older than 5 s.
    owner = await new_account(client)
    created = await client.post(
        "/api/v1/auth/api-keys",
        json={"name": "doomed", "scopes": ["tasks:read"]},
        headers=owner.headers,
    )
    key = {"X-API-Key": created.json()["key"]}
    assert (await client.get("/api/v1/tasks", headers=key)).status_code == 200
    used_at = time.monotonic()
    deleted = await client.delete(
        f"/api/v1/auth/api-keys/{created.json()['id']}", headers=owner.headers
    )
    assert deleted.status_code == 204
    await in_thread(stack_command, "down", "redis")
    try:
        await asyncio.sleep(max(0.0, used_at + 6.0 - time.monotonic()))
        response = await client.get("/api/v1/tasks", headers=key)
    finally:
        await redis_back(client, owner)
    assert response.status_code == 401, response.text


async def timed(request: Awaitable[httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await request
    return response, time.monotonic() - started


def assert_quick_503(response: httpx.Response, seconds: float) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert seconds < DEPENDENCY_DOWN_ANSWER_S
    assert "pymongo" not in response.text.lower()


async def test_ferretdb_outage_is_a_quick_503_and_recovers(client: httpx.AsyncClient) -> None:
    account = await new_account(client)
    before = await create_task(client, account, title="before the outage")
    lost_word = unique_word()
    await in_thread(stack_command, "down", "mongo")
    try:
        write, write_s = await timed(
            client.post("/api/v1/tasks", json={"title": lost_word}, headers=account.headers)
        )
        read, read_s = await timed(client.get("/api/v1/tasks", headers=account.headers))
        login, login_s = await timed(
            client.post(
                "/api/v1/auth/login", json={"email": account.email, "password": account.password}
            )
        )
    finally:
        await in_thread(stack_command, "up", "mongo")
    assert_quick_503(write, write_s)
    assert_quick_503(read, read_s)
    assert_quick_503(login, login_s)

    async def writes_again() -> Observation:
        response = await client.post(
            "/api/v1/tasks", json={"title": "after"}, headers=account.headers
        )
        return response.status_code == 201, response.text[:300]

    await eventually(writes_again, within=RECOVERY_S, interval=0.5)
    listed = await client.get("/api/v1/tasks", params={"limit": 100}, headers=account.headers)
    titles = sorted(item["title"] for item in listed.json()["items"])
    assert before["title"] in titles
    assert lost_word not in titles
    assert titles.count("after") == 1
