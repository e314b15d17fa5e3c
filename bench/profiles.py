"""When a goal is missed, profile the process that owns it under the load that missed it."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bench import profile as py_spy
from bench.client import PASSWORD, Bench, create_task, post_task
from bench.corpus import queries
from bench.load import closed_loop, paced
from bench.report import missed_goals
from bench.system import add
from bench.wrk import WrkRun, run_wrk
from deploy.local.services import ServiceProcess

SECONDS = 10
PROFILE_INTRO = (
    f"py-spy, {SECONDS} s per process, right after the benchmark that missed the goal, "
    "under the same kind of load."
)


async def _gateway_load(bench: Bench) -> object:
    headers = await bench.bearer()
    task_id = await create_task(bench.http, bench.gateway, headers, title="profile target")
    url = f"{bench.gateway}/api/v1/tasks/{task_id}"
    auth = headers["Authorization"]
    return await run_wrk(WrkRun(url, "Authorization", auth, bench.sizes.connections, SECONDS))


async def _login_load(bench: Bench) -> object:
    body = {"email": bench.user.email, "password": PASSWORD}

    async def login() -> None:
        await bench.http.post(f"{bench.gateway}/api/v1/auth/login", json=body)

    return await closed_loop(login, workers=4, seconds=SECONDS)


async def _write_load(bench: Bench) -> object:
    headers = await bench.bearer()

    async def write(number: int) -> None:
        await post_task(bench, headers, title=f"profiled {number}")

    return await paced(write, rate=100, seconds=SECONDS)


async def _query_load(bench: Bench) -> object:
    # A seed no benchmark used: every query misses the Redis cache, as measured.
    replica = _serving_backlog_replica(bench)

    async def ask(query: str) -> None:
        path = "/api/v1/search"
        headers = bench.identity("GET", path, {"q": query})
        await bench.http.get(replica.url + path, params={"q": query}, headers=headers)

    batch = iter(queries(20_000, seed=99))
    return await closed_loop(lambda: ask(next(batch)), workers=1, seconds=SECONDS)


def _serving_backlog_replica(bench: Bench) -> ServiceProcess:
    replicas = bench.system.processes["search"]
    if len(replicas) < 2 or not replicas[-1].alive():
        raise RuntimeError("the search benchmark left no replica over the backlog")
    return replicas[-1]


def _backlog_replica(bench: Bench) -> ServiceProcess:
    """A fresh replica on the backlog topic, profiled while it indexes."""
    topic = bench.system.env["KAFKA_TASK_EVENTS_TOPIC"] + "-backlog"
    return add(bench.system, "search", extra_env={"KAFKA_TASK_EVENTS_TOPIC": topic})


@dataclass(frozen=True)
class Subject:
    title: str
    goal_keys: tuple[str, ...]
    process: Callable[[Bench], ServiceProcess]
    load: Callable[[Bench], Awaitable[object]]


GATEWAY = (
    "gateway_vs_direct_rps_ratio",
    "gateway_vs_nginx_rps_ratio",
    "gateway_added_latency_p50_ms",
    "gateway_added_latency_p99_ms",
)
E2S = ("event_to_searchable_p50_ms", "event_to_searchable_p99_ms")
SUBJECTS = (
    Subject(
        "Gateway under peak load (wrk, authenticated GET /api/v1/tasks/{id})",
        GATEWAY,
        lambda bench: bench.system.one("gateway"),
        _gateway_load,
    ),
    Subject(
        "Auth during 4 concurrent logins",
        ("login_p99_ms",),
        lambda bench: bench.system.one("auth"),
        _login_load,
    ),
    Subject(
        "Tasks during 100 writes/s",
        E2S,
        lambda bench: bench.system.one("tasks"),
        _write_load,
    ),
    Subject(
        "Search (live replica) during 100 writes/s",
        E2S,
        lambda bench: bench.system.one("search"),
        _write_load,
    ),
    Subject(
        "Search replica over the backlog answering queries one at a time",
        ("search_p99_ms", "search_gateway_p99_ms"),
        _serving_backlog_replica,
        _query_load,
    ),
    Subject(
        "Search replica indexing the backlog",
        ("index_events_per_s",),
        _backlog_replica,
        lambda bench: asyncio.sleep(SECONDS),
    ),
)


async def _profile(bench: Bench, subject: Subject, number: int) -> list[str]:
    try:
        process = subject.process(bench).process
        assert process is not None
        out = bench.work_dir / f"profile-{number}.folded"
        folded = await py_spy.record(
            process.pid, seconds=SECONDS, load=subject.load(bench), out=out
        )
    except Exception as exc:  # ptrace may be forbidden, a service may be down: say so.
        return [f"### {subject.title}", "", f"Not profiled: {type(exc).__name__}: {exc}", ""]
    return py_spy.markdown(subject.title, folded)


async def profile_missed_goals(bench: Bench, results: dict[str, object]) -> list[str]:
    """py-spy tables for every process behind a goal missed in ``results``."""
    missed = {goal.key for goal in missed_goals(results)}
    sections = []
    for number, subject in enumerate(SUBJECTS):
        if missed.intersection(subject.goal_keys):
            sections += await _profile(bench, subject, number)
    return sections
