"""Native scale-out: two tasks and two search replicas behind one gateway.

Every search replica holds the whole projection (it reads every partition into its own index),
so each one, asked directly, answers completely. Stopping one replica of each while clients
keep reading, searching and writing costs no read or search, and at most the writes that were
in flight at that moment.
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from deploy.local.services import ServiceProcess
from shared.identity import Identity
from tests.integration.harness import System
from tests.support.accounts import Account, new_account
from tests.support.identities import SignedAs
from tests.support.polling import Observation, eventually
from tests.support.processes import retire
from tests.support.search import unique_word
from tests.support.tasks import create_task

pytestmark = pytest.mark.integration

SEARCH_PATH = "/api/v1/search"
TASKS = 20
WRITERS = 2
# How long the load may take to reach its floor before and after the fault.
LOAD_S = 60.0


async def replica_total(system: System, replica: ServiceProcess, user_id: str, q: str) -> int:
    """Ask one search replica directly, as the gateway would on the user's behalf."""
    identity = Identity(user_id=user_id, via="jwt")
    async with httpx.AsyncClient(base_url=replica.url, timeout=10) as client:
        response = await client.get(
            SEARCH_PATH, params={"q": q, "limit": 100}, auth=SignedAs(system, identity)
        )
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


async def served(replica: ServiceProcess, method: str, route: str) -> float:
    """How many requests for ``route`` this replica has answered, from its own metrics."""
    async with httpx.AsyncClient(base_url=replica.url, timeout=10) as client:
        text = (await client.get("/metrics")).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "http_requests_total"
        and sample.labels.get("method") == method
        and sample.labels.get("route") == route
    )


def all_found(
    system: System, replica: ServiceProcess, account: Account, word: str
) -> Callable[[], Awaitable[Observation]]:
    async def probe() -> Observation:
        total = await replica_total(system, replica, account.user_id, word)
        return total == TASKS, f"{replica.url} found {total} of {TASKS}"

    return probe


@dataclass
class Load:
    """Readers, searchers and writers through the gateway; what each got back."""

    client: httpx.AsyncClient
    account: Account
    word: str
    task_id: str
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    done: dict[str, int] = field(default_factory=lambda: {"read": 0, "search": 0, "write": 0})
    failures: dict[str, list[str]] = field(
        default_factory=lambda: {"read": [], "search": [], "write": []}
    )

    def request(self, kind: str) -> tuple[str, str, dict[str, Any]]:
        if kind == "read":
            return "GET", f"/api/v1/tasks/{self.task_id}", {}
        if kind == "search":
            return "GET", SEARCH_PATH, {"params": {"q": self.word, "limit": 100}}
        # Written tasks do not contain the searched word, so complete answers stay at TASKS.
        return "POST", "/api/v1/tasks", {"json": {"title": "written under load"}}

    async def worker(self, kind: str) -> None:
        method, path, extra = self.request(kind)
        while not self.stop.is_set():
            try:
                response = await self.client.request(
                    method, path, headers=self.account.headers, **extra
                )
            except httpx.HTTPError as exc:
                self.failures[kind].append(type(exc).__name__)
                continue
            self.done[kind] += 1
            self.check(kind, response)

    def check(self, kind: str, response: httpx.Response) -> None:
        if response.status_code >= 400:
            self.failures[kind].append(f"{response.status_code} {response.text[:200]}")
        elif kind == "search" and response.json()["total"] != TASKS:
            self.failures[kind].append(f"incomplete: {response.json()['total']} of {TASKS}")

    async def run_while(self, fault: Callable[[], None]) -> None:
        kinds = ("read",) * 3 + ("search",) * 3 + ("write",) * WRITERS
        workers = [asyncio.create_task(self.worker(kind)) for kind in kinds]
        try:
            # Load before the fault and after it, waited for rather than slept on.
            await eventually(lambda: self.served(read=10, search=10, write=3), within=LOAD_S)
            await asyncio.to_thread(fault)
            done = self.done
            after = {
                "read": max(51, done["read"] + 20),
                "search": max(51, done["search"] + 20),
                "write": max(11, done["write"] + 5),
            }
            await eventually(lambda: self.served(**after), within=LOAD_S)
        finally:
            self.stop.set()
            await asyncio.gather(*workers)

    async def served(self, **floor: int) -> Observation:
        enough = all(self.done[kind] >= n for kind, n in floor.items())
        return enough, {"done": dict(self.done), "failures": self.failures}


async def test_two_tasks_and_two_search_replicas_serve_completely_and_lose_one_of_each(
    system: System,
) -> None:
    tasks_replica = system.add("tasks")
    search_replica = system.add("search")
    gateway = system.add("gateway", extra_env=system.gateway_env())
    replicas, searchers = list(system.processes["tasks"]), list(system.processes["search"])
    try:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
            account = await new_account(client)
            word = unique_word()
            before = {proc.url: await served(proc, "POST", "/api/v1/tasks") for proc in replicas}
            tasks = [await create_task(client, account, title=f"{word} {n}") for n in range(TASKS)]
            for proc in searchers:
                await eventually(all_found(system, proc, account, word), within=30)
            searched = {proc.url: await served(proc, "GET", SEARCH_PATH) for proc in searchers}
            for _ in range(6):
                await client.get(SEARCH_PATH, params={"q": word}, headers=account.headers)
            # The gateway round-robins: every replica answered some of the calls above.
            for proc in replicas:
                assert await served(proc, "POST", "/api/v1/tasks") > before[proc.url], proc.url
            for proc in searchers:
                assert await served(proc, "GET", SEARCH_PATH) > searched[proc.url], proc.url
            load = Load(client, account, word, tasks[0]["id"])

            def stop_one_of_each() -> None:
                tasks_replica.stop()
                search_replica.stop()

            await load.run_while(stop_one_of_each)
    finally:
        retire(system, tasks_replica, search_replica, gateway)

    assert load.done["read"] > 50
    assert load.done["search"] > 50
    assert load.failures["read"] == []
    assert load.failures["search"] == []
    # Only writes in flight when their replica stopped may fail: at most one per writer.
    assert len(load.failures["write"]) <= WRITERS, load.failures["write"]
    assert load.done["write"] > 10
