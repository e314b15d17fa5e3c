"""Issue 6: indexing a backlog, query latency over it (in the service and through a gateway)
and the search process's peak memory.

The backlog (100,000 tasks of the bench user) is produced straight to a topic of its own, and
each round starts a fresh search replica on it; the last replica then serves the queries.
"""

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from bench.client import Bench, warm_up
from bench.corpus import BACKLOG_MARKER, queries
from bench.http_client import HTTP_ERRORS, Reply
from bench.kafka import create_topic, produce_backlog
from bench.machine import cpu_yardstick_ms
from bench.scrape import scrape, total_of
from bench.stats import latency_summary, median_of_rounds
from bench.system import add, peak_rss_mib
from deploy.local.services import ServiceProcess

INDEX_TIMEOUT_S = 600.0
POLL_S = 0.05
SEARCH_PATH = "/api/v1/search"
WARM_UP_QUERIES = 20
CPU_YARDSTICK_EVERY = 10


async def _indexed(bench: Bench, replica: ServiceProcess) -> float:
    """Events the replica has applied by its own metric, else how many tasks search finds."""
    try:
        applied = total_of(await scrape(bench.http, replica.url), "applied", "_total")
        if applied is not None:
            return applied
        response = await bench.http.get(
            replica.url + SEARCH_PATH,
            params={"q": BACKLOG_MARKER, "limit": 1},
            headers=bench.identity("GET", SEARCH_PATH, {"q": BACKLOG_MARKER, "limit": 1}),
        )
        return float(response.json()["total"]) if response.status == 200 else 0.0
    except (*HTTP_ERRORS, ValueError, KeyError):
        # Not listening or not answering yet: nothing indexed yet.
        return 0.0


async def _ready(bench: Bench, replica: ServiceProcess) -> bool:
    try:
        return (await bench.http.get(replica.url + "/ready")).status == 200
    except HTTP_ERRORS:
        return False


@dataclass(frozen=True)
class Rebuilt:
    """A fresh replica that has indexed a backlog, and how long that took."""

    replica: ServiceProcess
    indexing_s: float  # from its first applied event until /ready
    from_spawn_s: float


async def rebuild_replica(
    bench: Bench,
    topic: str,
    count: int,
    *,
    timeout_s: float = INDEX_TIMEOUT_S,
    poll_s: float = POLL_S,
) -> Rebuilt:
    """Start a fresh search replica on ``topic`` and wait until it has applied ``count`` events
    and answers ``/ready`` (applied counts staged events; the index answers once their commit
    is active)."""
    spawned = time.perf_counter()
    replica = add(bench.system, "search", extra_env={"KAFKA_TASK_EVENTS_TOPIC": topic}, ready=False)
    first_seen: float | None = None
    while (done := await _indexed(bench, replica)) < count or not await _ready(bench, replica):
        if time.perf_counter() - spawned > timeout_s or not replica.alive():
            raise RuntimeError(f"search replica indexed {done:.0f} of {count}")
        if done and first_seen is None:
            first_seen = time.perf_counter()
        await asyncio.sleep(poll_s)
    finished = time.perf_counter()
    # Start-up (imports, Kafka join) is not indexing; when the first poll already saw the
    # whole backlog done, the time since spawn is the only honest figure left.
    return Rebuilt(replica, finished - (first_seen or spawned), finished - spawned)


async def _index_round(bench: Bench, topic: str) -> tuple[ServiceProcess, dict[str, float]]:
    count = bench.sizes.search_tasks
    rebuilt = await rebuild_replica(bench, topic, count)
    return rebuilt.replica, {
        "index_events_per_s": count / rebuilt.indexing_s,
        "index_seconds_from_spawn": rebuilt.from_spawn_s,
    }


async def _timed_get(bench: Bench, url: str, **kwargs: Any) -> tuple[float, Reply]:
    begun = time.perf_counter()
    response = await bench.http.get(url, **kwargs)
    elapsed = time.perf_counter() - begun
    response.raise_for_status()
    return elapsed, response


@dataclass
class QuerySamples:
    """One round's durations in seconds: in the service, through the gateway, the service's
    own ``took_ms`` (handler time, without HTTP), its ``/health`` (the machine's floor) and,
    every ``CPU_YARDSTICK_EVERY`` queries, a fixed piece of CPU work in this process."""

    service: list[float] = field(default_factory=list)
    gateway: list[float] = field(default_factory=list)
    took: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


async def _ask_service(
    bench: Bench, replica: ServiceProcess, query: str, into: QuerySamples
) -> None:
    params: dict[str, str | int] = {"q": query, "limit": 20}
    headers = bench.identity("GET", SEARCH_PATH, params)
    elapsed, reply = await _timed_get(
        bench, replica.url + SEARCH_PATH, params=params, headers=headers
    )
    into.service.append(elapsed)
    into.took.append(float(reply.json()["took_ms"]) / 1000)
    into.floor.append((await _timed_get(bench, replica.url + "/health"))[0])


async def _query_round(
    bench: Bench, replica: ServiceProcess, gateway: ServiceProcess, batch: list[str]
) -> dict[str, float]:
    """Queries alternate between the service and the gateway, so both meet the same moments
    of a noisy machine; after each query into the service, its ``/health`` is timed too."""
    bearer = await bench.bearer()
    samples = QuerySamples()
    for service_query, gateway_query in zip(batch[::2], batch[1::2], strict=True):
        await _ask_service(bench, replica, service_query, samples)
        params = {"q": gateway_query, "limit": 20}
        url = gateway.url + SEARCH_PATH
        samples.gateway.append((await _timed_get(bench, url, params=params, headers=bearer))[0])
        if len(samples.service) % CPU_YARDSTICK_EVERY == 0:
            samples.cpu.append(cpu_yardstick_ms() / 1000)
    figures: dict[str, float] = {}
    for name, durations in (
        ("search", samples.service),
        ("search_gateway", samples.gateway),
        ("search_took", samples.took),
        ("search_health_floor", samples.floor),
    ):
        summary = latency_summary(durations)
        figures |= {f"{name}_p50_ms": summary["p50_ms"], f"{name}_p99_ms": summary["p99_ms"]}
    figures["search_cpu_yardstick_p50_ms"] = latency_summary(samples.cpu)["p50_ms"]
    return figures


async def _index_backlog(bench: Bench, topic: str) -> tuple[ServiceProcess, list[dict[str, float]]]:
    """Each round a fresh replica indexes the whole backlog; the last one stays up."""
    replica: ServiceProcess | None = None
    rounds = []
    for _ in range(bench.sizes.index_rounds):
        if replica is not None:
            replica.stop()
        replica, figures = await _index_round(bench, topic)
        rounds.append(figures)
    assert replica is not None
    return replica, rounds


async def run(bench: Bench) -> dict[str, object]:
    bootstrap = bench.system.env["KAFKA_BOOTSTRAP_SERVERS"]
    topic = bench.system.env["KAFKA_TASK_EVENTS_TOPIC"] + "-backlog"
    count = bench.sizes.search_tasks
    await create_topic(bootstrap, topic)
    produced = time.perf_counter()
    await produce_backlog(bootstrap, topic, owner_id=bench.user.user_id, count=count)
    produce_s = time.perf_counter() - produced
    replica, index_rounds = await _index_backlog(bench, topic)
    gateway_env = {**bench.system.gateway_env(), "GATEWAY_SEARCH_URLS": replica.url}
    gateway = add(bench.system, "gateway", extra_env=gateway_env)
    await warm_up(bench, gateway.url)
    # Every query is asked once: a repeated one would be answered from the Redis cache.
    per_round = 2 * bench.sizes.search_queries
    asked = queries(WARM_UP_QUERIES + bench.sizes.rounds * per_round, seed=1)
    for query in asked[:WARM_UP_QUERIES]:
        await _ask_service(bench, replica, query, QuerySamples())
    query_rounds = [
        await _query_round(bench, replica, gateway, asked[start : start + per_round])
        for start in range(WARM_UP_QUERIES, len(asked), per_round)
    ]
    assert replica.process is not None
    peak_rss = peak_rss_mib(replica.process.pid)
    # The replica and its gateway stay up for the profile; bench/main.py stops them after.
    return {
        **median_of_rounds(index_rounds),
        **median_of_rounds(query_rounds),
        "search_tasks_indexed": float(count),
        "search_peak_rss_mib": peak_rss,
        "backlog_produce_events_per_s": count / produce_s,
        "raw": {"index_rounds": index_rounds, "query_rounds": query_rounds},
    }
