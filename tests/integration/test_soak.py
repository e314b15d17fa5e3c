"""Soak: several hundred concurrent connections on a mix of reads, writes and searches.

Zero errors other than 429, and the memory of every process stays flat: each service replica
and the stack's Kafka, FerretDB and Redis (found by the pidfiles ``stack.py up`` wrote). CI
runs it for ``SOAK_SECONDS`` (15 by default); by hand, for a minute:

    SOAK_SECONDS=60 .venv/bin/python deploy/local/testrun.py tests/integration/test_soak.py -s
"""

import asyncio
import itertools
import os
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import pytest

from deploy.local._stack_components import COMPONENTS
from deploy.local._stack_config import StackConfig
from deploy.local._stack_process import rss_mib, running_pid
from deploy.local.services import ServiceProcess
from tests.integration.harness import System
from tests.support.accounts import Account, new_account
from tests.support.search import unique_word
from tests.support.tasks import create_task

pytestmark = [pytest.mark.integration, pytest.mark.soak]
SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "15"))
CONNECTIONS = int(os.environ.get("SOAK_CONNECTIONS", "300"))
WARM_UP_SECONDS = 3.0
# A user's queries must not slow down with everyone else's data; this many tasks of another
# user are there before the soak starts.
BACKGROUND_TASKS = int(os.environ.get("SOAK_BACKGROUND_TASKS", "1000"))
USERS = 10
# Memory may grow by half plus this much during the soak before it counts as a leak.
SLACK_MIB = 50


def infra_pid(config: StackConfig, name: str) -> int:
    """The pid of a stack component that ``stack.py up`` recorded and that still runs."""
    pidfile = config.pid_file(name)
    pid = running_pid(pidfile)
    assert pid is not None, f"{name}: no running process recorded in {pidfile}"
    return pid


def service_pid(proc: ServiceProcess) -> int:
    assert proc.process is not None, f"{proc.name}:{proc.port} was never started"
    return proc.process.pid


def watched_pids(system: System) -> dict[str, int]:
    """Every process whose memory must stay flat: the stack's and each service replica's."""
    config = StackConfig.from_env()
    infra = {name: infra_pid(config, name) for name in COMPONENTS}
    services = {
        f"{proc.name}:{proc.port}": service_pid(proc)
        for procs in system.processes.values()
        for proc in procs
    }
    return {**infra, **services}


def rss_of(pids: dict[str, int]) -> dict[str, float]:
    """Resident memory in MiB; a process that is gone fails the test (it would read as 0)."""
    rss = {name: rss_mib(pid) for name, pid in pids.items()}
    gone = [f"{name} (pid {pids[name]})" for name, mib in rss.items() if mib == 0]
    assert gone == [], f"processes gone: {gone}"
    return rss


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
    pids = watched_pids(system)
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=60, limits=limits) as client:
        workload = await prepared_workload(system, client)
        await workload.run(WARM_UP_SECONDS)
        before = rss_of(pids)
        started = time.monotonic()
        await workload.run(SOAK_SECONDS)
        elapsed = time.monotonic() - started
        after = rss_of(pids)
    total = sum(workload.tally.statuses.values())
    with capsys.disabled():
        print(
            f"\nsoak: {CONNECTIONS} connections, {elapsed:.1f}s, {total} requests "
            f"({total / elapsed:.0f}/s), statuses {dict(workload.tally.statuses)}"
        )
        for name in before:
            print(f"  rss {name}: {before[name]:.1f} MiB -> {after[name]:.1f} MiB")
    assert workload.tally.errors == [], workload.tally.errors[:20]
    assert total > CONNECTIONS
    grown = {n: (before[n], after[n]) for n in before if after[n] > 1.5 * before[n] + SLACK_MIB}
    assert grown == {}
