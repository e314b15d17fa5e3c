"""Live task events over SSE through the gateway: own events only, resumable, and closed when
the session is revoked; served by any tasks replica."""

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
import orjson
import pytest

from tests.integration.harness import System
from tests.support.accounts import Account, new_account
from tests.support.polling import Observation, eventually
from tests.support.processes import retire

pytestmark = pytest.mark.integration

STREAM = "/api/v1/events/stream"
TASKS = "/api/v1/tasks"
WAIT_S = 10.0


@dataclass
class Received:
    """What a stream delivered: (id, type, task) per event, and resets."""

    events: list[tuple[str, str, dict[str, object]]] = field(default_factory=list)
    resets: int = 0
    ended: bool = False


async def read_events(response: httpx.Response, into: Received) -> None:
    event: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line == "":
            if event.get("event") == "reset":
                into.resets += 1
            elif "data" in event:
                into.events.append((event["id"], event["event"], orjson.loads(event["data"])))
            event = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            event[name] = value
    into.ended = True


@asynccontextmanager
async def listening(
    client: httpx.AsyncClient, account: Account, last_event_id: str | None = None
) -> AsyncIterator[Received]:
    headers = dict(account.headers)
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    received = Received()
    async with client.stream("GET", STREAM, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = asyncio.create_task(read_events(response, received))
        try:
            yield received
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)


async def wait_for(predicate: Callable[[], bool]) -> None:
    async def probe() -> Observation:
        return predicate(), "not yet"

    await eventually(probe, within=WAIT_S, interval=0.05)


def task_ids(received: Received) -> list[str]:
    return [str(task["id"]) for _, _, task in received.events]


async def test_each_user_sees_only_their_own_events_in_version_order(
    api: httpx.AsyncClient, account: Account
) -> None:
    other = await new_account(api)
    async with listening(api, account) as mine, listening(api, other) as theirs:
        created = await api.post(TASKS, json={"title": "live"}, headers=account.headers)
        task_id = created.json()["id"]
        await api.patch(f"{TASKS}/{task_id}", json={"status": "done"}, headers=account.headers)
        await api.delete(f"{TASKS}/{task_id}", headers=account.headers)
        foreign = await api.post(TASKS, json={"title": "theirs"}, headers=other.headers)
        await wait_for(lambda: len(mine.events) >= 3 and len(theirs.events) >= 1)
    assert [(kind, task["version"]) for _, kind, task in mine.events] == [
        ("taskstream.task.created", 1),
        ("taskstream.task.updated", 2),
        ("taskstream.task.deleted", 3),
    ]
    assert set(task_ids(mine)) == {task_id}
    assert task_ids(theirs) == [foreign.json()["id"]]
    assert all("owner_id" not in task for _, _, task in mine.events)


async def create(client: httpx.AsyncClient, account: Account, title: str) -> str:
    response = await client.post(TASKS, json={"title": title}, headers=account.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def resume_until_marker(
    client: httpx.AsyncClient, account: Account, last_id: str
) -> Received:
    """Resume, then write a marker: once it arrives, whatever the replay held came before it."""
    async with listening(client, account, last_event_id=last_id) as resumed:
        marker = await create(client, account, "marker")
        await wait_for(lambda: marker in task_ids(resumed))
    # Earlier resumptions' markers were written after ``last_id`` too.
    resumed.events = [event for event in resumed.events if event[2]["title"] != "marker"]
    return resumed


async def test_a_dropped_stream_resumes_from_last_event_id_without_losing_anything(
    system: System, account: Account
) -> None:
    # A second tasks replica behind a gateway of its own: a resumption may land on either.
    replica = system.add("tasks")
    gateway = system.add("gateway", extra_env=system.gateway_env())
    try:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
            async with listening(client, account) as first:
                seen = await create(client, account, "seen")
                await wait_for(lambda: seen in task_ids(first))
            last_id = first.events[-1][0]
            missed = [await create(client, account, f"missed {n}") for n in range(5)]
            resumptions = [await resume_until_marker(client, account, last_id) for _ in range(2)]
    finally:
        retire(system, replica, gateway)
    for resumed in resumptions:
        # Per task the order is the topic's; across tasks (partitions) it may differ.
        assert sorted(task_ids(resumed)) == sorted(missed)
        assert resumed.resets == 0


async def test_a_revoked_sessions_stream_ends_within_seconds(
    api: httpx.AsyncClient, account: Account
) -> None:
    async with listening(api, account) as received:
        logout = await api.post("/api/v1/auth/logout", headers=account.headers)
        assert logout.status_code == 204
        await wait_for(lambda: received.ended)


async def test_a_stream_without_credentials_is_a_401_problem(api: httpx.AsyncClient) -> None:
    response = await api.get(STREAM)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


async def open_streams_upstream(system: System) -> float:
    """Streams the tasks replicas hold open, summed (their ``tasks_live_streams_open``)."""
    total = 0.0
    async with httpx.AsyncClient(timeout=5) as client:
        for replica in system.processes["tasks"]:
            text = (await client.get(f"{replica.url}/metrics")).text
            match = re.search(r"^tasks_live_streams_open (\S+)$", text, re.MULTILINE)
            assert match, "tasks exports tasks_live_streams_open"
            total += float(match.group(1))
    return total


async def test_a_stream_the_client_abandons_is_closed_upstream(
    system: System, api: httpx.AsyncClient, account: Account
) -> None:
    before = await open_streams_upstream(system)
    async with listening(api, account):
        await until_open_streams(system, lambda n: n == before + 1)
    # The client hung up; the gateway must stop relaying and close the upstream connection
    # (otherwise the stream lives on upstream until the token expires).
    await until_open_streams(system, lambda n: n == before)


async def until_open_streams(system: System, check: Callable[[float], bool]) -> None:
    async def probe() -> Observation:
        count = await open_streams_upstream(system)
        return check(count), f"{count} streams open upstream"

    await eventually(probe, within=WAIT_S, interval=0.1)


async def test_streams_have_their_own_budget_at_the_gateway(
    system: System, account: Account
) -> None:
    # One connection for requests, two for streams: two open streams leave requests alone,
    # and a third stream is refused with a 503 problem instead of waiting on a request slot.
    gateway = system.add(
        "gateway",
        extra_env={
            **system.gateway_env(),
            "GATEWAY_UPSTREAM_MAX_CONNECTIONS": "1",
            "GATEWAY_UPSTREAM_MAX_STREAMS": "2",
            "GATEWAY_UPSTREAM_POOL_WAIT_SECONDS": "0.3",
        },
    )
    try:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
            async with listening(client, account), listening(client, account):
                listed = await client.get(TASKS, headers=account.headers)
                assert listed.status_code == 200
                third = await client.get(STREAM, headers=account.headers)
                assert third.status_code == 503
                assert third.headers["content-type"] == "application/problem+json"
                assert "retry-after" in third.headers
            async with listening(client, account) as again:
                task_id = await create(client, account, "after the streams closed")
                await wait_for(lambda: task_id in task_ids(again))
    finally:
        retire(system, gateway)
