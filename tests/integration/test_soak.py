"""Soak: several hundred concurrent connections on a mix of reads, writes and searches.

Zero errors other than 429, and the memory of every service process stays flat. CI runs it
for ``SOAK_SECONDS`` (15 by default); by hand, for a minute:

    SOAK_SECONDS=60 .venv/bin/python deploy/local/testrun.py tests/integration/test_soak.py -s
"""

import asyncio
import itertools
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from deploy.local.services import ServiceProcess
from tests.integration.harness import System
from tests.integration.secrets_registry import Account, create_task, new_account, unique_word

pytestmark = [pytest.mark.integration, pytest.mark.soak]
SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "15"))
CONNECTIONS = int(os.environ.get("SOAK_CONNECTIONS", "300"))
WARM_UP_SECONDS = 3.0
# A user's queries must not slow down with everyone else's data; this many tasks of another
# user are there before the soak starts.
BACKGROUND_TASKS = int(os.environ.get("SOAK_BACKGROUND_TASKS", "1000"))
USERS = 10
MIB = 1024 * 1024


def rss_bytes(proc: ServiceProcess) -> int:
    assert proc.process is not None
    for line in Path(f"/proc/{proc.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {proc.name}")


def rss_of(system: System) -> dict[str, int]:
    return {
        f"{proc.name}:{proc.port}": rss_bytes(proc)
        for procs in system.processes.values()
        for proc in procs
    }


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def record(self, response: httpx.Response) -> None:
        self.statuses[response.status_code] += 1
        if response.status_code >= 400 and response.status_code != 429:
            self.errors.append(
                f"{response.request.method} {response.request.url.path} "
                f"{response.status_code} {response.text[:200]}"
            )


@dataclass
class Workload:
    client: httpx.AsyncClient
    accounts: list[Account]
    word: str
    task_ids: list[str]
    tally: Tally = field(default_factory=Tally)

    async def one_request(self, n: int) -> None:
        account = self.accounts[n % len(self.accounts)]
        task_id = self.task_ids[n % len(self.task_ids)]
        kind = n % 8
        if kind < 3:
            response = await self.client.get("/api/v1/tasks", headers=account.headers)
        elif kind == 3:
            response = await self.client.get(f"/api/v1/tasks/{task_id}", headers=account.headers)
        elif kind < 6:
            response = await self.client.get(
                "/api/v1/search", params={"q": self.word}, headers=account.headers
            )
        elif kind == 6:
            response = await self.client.post(
                "/api/v1/tasks", json={"title": f"{self.word} soak {n}"}, headers=account.headers
            )
        else:
            response = await self.client.get("/api/v1/tasks/stats", headers=account.headers)
        self.tally.record(response)

    async def run(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        numbers = itertools.count()

        async def connection() -> None:
            while time.monotonic() < deadline:
                try:
                    await self.one_request(next(numbers))
                except httpx.HTTPError as exc:
                    self.tally.errors.append(type(exc).__name__)

        await asyncio.gather(*(connection() for _ in range(CONNECTIONS)))


async def other_users_tasks(client: httpx.AsyncClient, count: int) -> None:
    """Tasks of someone else, so the soak meets a populated database whatever ran before it."""
    owner = await new_account(client)
    # One request first: a cold gateway's JWKS race is test_e2e.py's subject, not this one's.
    await create_task(client, owner, title="background first")
    slots = asyncio.Semaphore(20)

    async def one(n: int) -> None:
        async with slots:
            await create_task(client, owner, title=f"background {n}")

    await asyncio.gather(*(one(n) for n in range(count)))


async def prepared_workload(system: System, client: httpx.AsyncClient) -> Workload:
    await other_users_tasks(client, BACKGROUND_TASKS)
    word = unique_word()
    accounts = [await new_account(client) for _ in range(USERS)]
    tasks = [await create_task(client, account, title=f"{word} seed") for account in accounts]
    # Task n belongs to account n, and requests pair them by the same index.
    return Workload(client, accounts, word, [task["id"] for task in tasks])


async def test_soak_has_no_errors_and_flat_memory(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=60, limits=limits) as client:
        workload = await prepared_workload(system, client)
        await workload.run(WARM_UP_SECONDS)
        before = rss_of(system)
        started = time.monotonic()
        await workload.run(SOAK_SECONDS)
        elapsed = time.monotonic() - started
        after = rss_of(system)
    total = sum(workload.tally.statuses.values())
    with capsys.disabled():
        print(
            f"\nsoak: {CONNECTIONS} connections, {elapsed:.1f}s, {total} requests "
            f"({total / elapsed:.0f}/s), statuses {dict(workload.tally.statuses)}"
        )
        for name in before:
            print(f"  rss {name}: {before[name] / MIB:.1f} MiB -> {after[name] / MIB:.1f} MiB")
    assert workload.tally.errors == [], workload.tally.errors[:20]
    assert total > CONNECTIONS
    grown = {n: (before[n], after[n]) for n in before if after[n] > 1.5 * before[n] + 50 * MIB}
    assert grown == {}
