"""A mixed user journey at a fixed arrival rate through the gateway (issue 25, sections 3-4).

Requests arrive at a fixed rate whatever the latency (an open loop, as real users do): 60% list
(limit 20), 15% get one, 10% create, 10% patch, 5% search, each from one of ``journey_users``
signed-in users. Rates step up until a step has a p99 over 100 ms or any error, then the gap is
halved a few times; ``journey_max_rate_rps`` is the highest rate that held. At that rate the
CPU each process used (share of one core, from /proc) is reported, and every process's peak
RSS (VmHWM) at idle (before) and after the load.
"""

import asyncio
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.client import PASSWORD, Bench, login
from bench.http_client import HTTP_ERRORS, Http
from bench.load import paced
from bench.stats import percentile
from deploy.local._stack_config import StackConfig

P99_LIMIT_MS = 100.0
MIX = (("list", 60), ("get", 15), ("create", 10), ("patch", 10), ("search", 5))
TICKS_PER_S = 100
# Each sign-up hashes a password twice (argon2): a few at a time keeps auth answering.
SIGN_UP_CONCURRENCY = 8  # /proc/<pid>/stat counts CPU time in clock ticks (USER_HZ)


@dataclass
class Journeyer:
    """One signed-in user with a few tasks of their own."""

    headers: dict[str, str]
    task_ids: list[str]


async def _sign_up(http: Http, gateway: str, number: int) -> Journeyer:
    email = f"journey-{number}-{random.getrandbits(40):x}@example.com"
    body = {"email": email, "password": PASSWORD, "name": "Journey"}
    (await http.post(f"{gateway}/api/v1/auth/register", json=body)).raise_for_status()
    headers = {"Authorization": f"Bearer {await login(http, gateway, email)}"}
    ids = []
    for n in range(3):
        reply = await http.post(
            f"{gateway}/api/v1/tasks", json={"title": f"journey task {n}"}, headers=headers
        )
        reply.raise_for_status()
        ids.append(reply.json()["id"])
    return Journeyer(headers, ids)


def _request(kind: str, who: Journeyer, gateway: str) -> tuple[str, str, dict[str, Any]]:
    task = f"{gateway}/api/v1/tasks/{random.choice(who.task_ids)}"
    requests: dict[str, tuple[str, str, dict[str, Any]]] = {
        "list": ("GET", f"{gateway}/api/v1/tasks", {"params": {"limit": 20}}),
        "get": ("GET", task, {}),
        "create": ("POST", f"{gateway}/api/v1/tasks", {"json": {"title": "journey"}}),
        "patch": ("PATCH", task, {"json": {"priority": random.choice(["low", "high"])}}),
        "search": ("GET", f"{gateway}/api/v1/search", {"params": {"q": "journey"}}),
    }
    return requests[kind]


async def _one(bench: Bench, users: list[Journeyer]) -> tuple[float, bool]:
    kind = random.choices([k for k, _ in MIX], weights=[w for _, w in MIX])[0]
    who = random.choice(users)
    method, url, extra = _request(kind, who, bench.gateway)
    started = time.perf_counter()
    try:
        reply = await bench.http.request(method, url, headers=who.headers, **extra)
        ok = reply.status < 400
    except HTTP_ERRORS:
        ok = False
    return time.perf_counter() - started, ok


async def _step(bench: Bench, users: list[Journeyer], rate: float) -> tuple[float, int]:
    """p99 (ms) and errors of one step at ``rate`` requests/s."""

    async def request(_: int) -> tuple[float, bool]:
        return await _one(bench, users)

    results = await paced(request, rate=rate, seconds=bench.sizes.load_seconds)
    samples = [r for r in results if isinstance(r, tuple)]
    durations = [duration for duration, _ in samples]
    return percentile(durations, 99) * 1000, sum(1 for _, ok in samples if not ok)


def _holds(p99_ms: float, errors: int) -> bool:
    return errors == 0 and p99_ms <= P99_LIMIT_MS


async def _max_rate(bench: Bench, users: list[Journeyer]) -> tuple[float, list[dict[str, float]]]:
    steps: list[dict[str, float]] = []

    async def tried(rate: float) -> bool:
        p99, errors = await _step(bench, users, rate)
        steps.append({"rate": rate, "p99_ms": p99, "errors": float(errors)})
        return _holds(p99, errors)

    good, bad = 0.0, None
    rate = bench.sizes.journey_start_rate
    while bad is None and rate <= bench.sizes.journey_max_rate:
        if await tried(rate):
            good, rate = rate, rate * 2
        else:
            bad = rate
    for _ in range(bench.sizes.journey_refine_steps if bad is not None else 0):
        middle = (good + bad) / 2  # type: ignore[operator]
        if await tried(middle):
            good = middle
        else:
            bad = middle
    return good, steps


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _processes(bench: Bench) -> dict[str, int]:
    """Every process of the system by name: the stack's components and our services."""
    config = StackConfig.from_env()
    found = {}
    for component in ("kafka", "mongo", "redis"):
        pid_file = config.pid_file(component)
        if pid_file.exists():
            found[component] = int(pid_file.read_text().split()[0])
    for name, replicas in bench.system.processes.items():
        for number, replica in enumerate(replicas):
            if replica.process is not None:
                found[f"{name}-{number}"] = replica.process.pid
    return found


async def _cpu_at(
    bench: Bench, users: list[Journeyer], rate: float, pids: dict[str, int]
) -> dict[str, float]:
    before = {name: _cpu_ticks(pid) for name, pid in pids.items()}
    started = time.monotonic()
    await _step(bench, users, rate)
    seconds = time.monotonic() - started
    return {
        f"journey_cpu_cores_{name}": (_cpu_ticks(pid) - before[name]) / TICKS_PER_S / seconds
        for name, pid in pids.items()
    }


def _rss(pids: dict[str, int], when: str) -> dict[str, float]:
    return {f"rss_peak_{when}_mib_{name}": _peak_rss_mib(pid) for name, pid in pids.items()}


async def run(bench: Bench) -> dict[str, object]:
    pids = _processes(bench)
    idle = _rss(pids, "idle")
    signing_up = asyncio.Semaphore(SIGN_UP_CONCURRENCY)

    async def sign_up(number: int) -> Journeyer:
        async with signing_up:
            return await _sign_up(bench.http, bench.gateway, number)

    users = await asyncio.gather(*(sign_up(n) for n in range(bench.sizes.journey_users)))
    best, steps = await _max_rate(bench, list(users))
    cpu = await _cpu_at(bench, list(users), best, pids) if best else {}
    figures: dict[str, float] = {
        "journey_max_rate_rps": best,
        **cpu,
        **idle,
        **_rss(pids, "loaded"),
    }
    return {**figures, "raw": {"steps": steps}}
