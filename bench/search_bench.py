"""Issue 6: indexing a backlog, query latency over it (in the service and through a gateway)
and the search process's peak memory.

The backlog (100,000 tasks of the bench user) is produced straight to a topic of its own, and
each round starts a fresh search replica on it; the last replica then serves the queries.
"""

import asyncio
import time
from typing import Any

from bench.client import Bench, warm_up
from bench.corpus import BACKLOG_MARKER, queries
from bench.http_client import HTTP_ERRORS
from bench.kafka import create_topic, produce_backlog
from bench.scrape import scrape, total_of
from bench.stats import latency_summary, median_of_rounds
from bench.system import add, peak_rss_mib
from deploy.local.services import ServiceProcess

INDEX_TIMEOUT_S = 600.0
POLL_S = 0.05
SEARCH_PATH = "/api/v1/search"
WARM_UP_QUERIES = 20


async def _indexed(bench: Bench, replica: ServiceProcess) -> float:
    """Events the replica has applied by its own metric, else how many tasks search finds."""
    try:
        applied = total_of(await scrape(bench.http, replica.url), "applied", "_total")
        if applied is not None:
            return applied
        response = await bench.http.get(
            replica.url + SEARCH_PATH,
            params={"q": BACKLOG_MARKER, "limit": 1},
            headers=bench.identity("GET", SEARCH_PATH),
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


async def _index_round(bench: Bench, topic: str) -> tuple[ServiceProcess, dict[str, float]]:
    count = bench.sizes.search_tasks
    spawned = time.perf_counter()
    replica = add(bench.system, "search", extra_env={"KAFKA_TASK_EVENTS_TOPIC": topic}, ready=False)
    first_seen: float | None = None
    # Applied counts staged events; the index answers once their commit is active (/ready).
    while (done := await _indexed(bench, replica)) < count or not await _ready(bench, replica):
        if time.perf_counter() - spawned > INDEX_TIMEOUT_S or not replica.alive():
            raise RuntimeError(f"search replica indexed {done:.0f} of {count}")
        if done and first_seen is None:
            first_seen = time.perf_counter()
        await asyncio.sleep(POLL_S)
    finished = time.perf_counter()
    # Start-up (imports, Kafka join) is not indexing; when the first poll already saw the
    # whole backlog done, the time since spawn is the only honest figure left.
    indexing_s = finished - (first_seen or spawned)
    return replica, {
        "index_events_per_s": count / indexing_s,
        "index_seconds_from_spawn": finished - spawned,
    }


async def _timed_get(bench: Bench, url: str, **kwargs: Any) -> float:
    begun = time.perf_counter()
    response = await bench.http.get(url, **kwargs)
    elapsed = time.perf_counter() - begun
    response.raise_for_status()
    return elapsed


async def _latencies(
    bench: Bench, *, base: str, gateway: bool, batch: list[str], floor: list[float] | None = None
) -> list[float]:
    """One query at a time; with ``floor``, the same process's ``/health`` is timed after each
    query into it: the yardstick of what this machine adds to any request at that moment."""
    bearer = await bench.bearer() if gateway else {}
    durations = []
    for query in batch:
        headers = bearer or bench.identity("GET", SEARCH_PATH)
        params = {"q": query, "limit": 20}
        durations.append(
            await _timed_get(bench, base + SEARCH_PATH, params=params, headers=headers)
        )
        if floor is not None:
            floor.append(await _timed_get(bench, base + "/health"))
    return durations


async def _query_round(
    bench: Bench, replica: ServiceProcess, gateway: ServiceProcess, batch: list[str]
) -> dict[str, float]:
    half = len(batch) // 2
    floor: list[float] = []
    service = latency_summary(
        await _latencies(bench, base=replica.url, gateway=False, batch=batch[:half], floor=floor)
    )
    through = latency_summary(
        await _latencies(bench, base=gateway.url, gateway=True, batch=batch[half:])
    )
    health = latency_summary(floor)
    return {
        "search_p50_ms": service["p50_ms"],
        "search_p99_ms": service["p99_ms"],
        "search_gateway_p50_ms": through["p50_ms"],
        "search_gateway_p99_ms": through["p99_ms"],
        "search_health_floor_p50_ms": health["p50_ms"],
        "search_health_floor_p99_ms": health["p99_ms"],
    }


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
    await _latencies(bench, base=replica.url, gateway=False, batch=asked[:WARM_UP_QUERIES])
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
