"""Read your own writes: a search that presents a write's consistency token sees that write.

Through the gateway with two search replicas, so a token is honoured by whichever replica
answers; then against a replica whose consumer never receives the write, to show the bounded
wait (``X-Search-Stale``) and that another user's token neither waits nor reveals anything.
"""

import asyncio
from typing import Any

import httpx
import pytest

from deploy.local.services import ServiceProcess
from shared.identity import Identity
from tests.integration.harness import System
from tests.support.accounts import Account, new_account
from tests.support.identities import SignedAs
from tests.support.processes import retire
from tests.support.search import unique_word

pytestmark = pytest.mark.integration

SEARCH_PATH = "/api/v1/search"
TOKEN = "X-Consistency-Token"
ROUNDS, WORKERS = 1000, 8
IDLE_WAIT_MS = 1500


async def search_with(
    client: httpx.AsyncClient, headers: dict[str, str], q: str, token: str
) -> httpx.Response:
    return await client.get(SEARCH_PATH, params={"q": q}, headers={**headers, TOKEN: token})


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["task"]["id"] for item in response.json()["items"]]


async def create_then_search(client: httpx.AsyncClient, account: Account, rounds: int) -> list[str]:
    """Each round: create a task with a new word, then search that word once with the token."""
    misses = []
    for _ in range(rounds):
        word = unique_word()
        created = await client.post(
            "/api/v1/tasks", json={"title": f"{word} ryw"}, headers=account.headers
        )
        assert created.status_code == 201, created.text
        found = await search_with(client, account.headers, word, created.headers[TOKEN])
        if ids(found) != [created.json()["id"]] or "x-search-stale" in found.headers:
            misses.append(f"{word}: {found.text[:200]}")
    return misses


async def test_a_created_task_is_found_on_the_first_search_with_its_token_1000_times(
    system: System,
) -> None:
    second = system.add("search")
    gateway = system.add("gateway", extra_env=system.gateway_env())
    try:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
            account = await new_account(client)
            per_worker = ROUNDS // WORKERS
            results = await asyncio.gather(
                *(create_then_search(client, account, per_worker) for _ in range(WORKERS))
            )
    finally:
        retire(system, second, gateway)
    misses = [miss for result in results for miss in result]
    assert misses == [], f"{len(misses)} of {ROUNDS} first searches missed: {misses[:3]}"


async def test_tokens_of_edits_and_deletes_are_honoured_too(
    api: httpx.AsyncClient, account: Account
) -> None:
    old, new = unique_word(), unique_word()
    created = await api.post("/api/v1/tasks", json={"title": old}, headers=account.headers)
    task_id = created.json()["id"]
    path = f"/api/v1/tasks/{task_id}"
    edited = await api.patch(path, json={"title": new}, headers=account.headers)
    assert edited.status_code == 200, edited.text
    assert ids(await search_with(api, account.headers, new, edited.headers[TOKEN])) == [task_id]
    assert ids(await search_with(api, account.headers, old, edited.headers[TOKEN])) == []
    deleted = await api.delete(path, headers=account.headers)
    assert deleted.status_code == 204
    assert ids(await search_with(api, account.headers, new, deleted.headers[TOKEN])) == []


async def replica_search(
    system: System, replica: ServiceProcess, user_id: str, q: str, token: str
) -> httpx.Response:
    """Ask one replica directly, signed as the gateway would sign the user's request."""
    identity = Identity(user_id=user_id, via="jwt")
    async with httpx.AsyncClient(
        base_url=replica.url, timeout=30, auth=SignedAs(system, identity)
    ) as client:
        return await search_with(client, {}, q, token)


def took_ms(response: httpx.Response) -> float:
    assert response.status_code == 200, response.text
    took: float = response.json()["took_ms"]
    return took


async def test_a_replica_that_never_gets_the_write_answers_stale_after_its_wait_and_a_foreign_token_neither_waits_nor_reveals(  # noqa: E501
    system: System, api: httpx.AsyncClient
) -> None:
    # This replica reads a topic no task is written to: its consumer never sees our writes.
    idle = system.add(
        "search",
        extra_env={
            "KAFKA_TASK_EVENTS_TOPIC": f"{system.env['KAFKA_TASK_EVENTS_TOPIC']}-idle",
            "SEARCH_CONSISTENCY_WAIT_MS": str(IDLE_WAIT_MS),
        },
    )
    try:
        owner, other = await new_account(api), await new_account(api)
        word = unique_word()
        created = await api.post("/api/v1/tasks", json={"title": word}, headers=owner.headers)
        token = created.headers[TOKEN]
        stale = await replica_search(system, idle, owner.user_id, word, token)
        foreign = await replica_search(system, idle, other.user_id, word, token)
        malformed = await replica_search(system, idle, owner.user_id, word, "not-a-token")
    finally:
        retire(system, idle)
    assert stale.headers["x-search-stale"] == "true"
    assert took_ms(stale) >= IDLE_WAIT_MS
    assert "x-search-stale" not in foreign.headers
    assert took_ms(foreign) < IDLE_WAIT_MS / 2
    assert foreign.json()["items"] == []
    assert malformed.status_code == 422
    assert malformed.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = malformed.json()
    assert problem["errors"][0]["loc"] == ["header", TOKEN]
