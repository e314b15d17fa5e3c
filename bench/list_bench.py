"""Issue 27: listing a page costs a page, whatever the user's total.

Two users with ``list_small_tasks`` and ``list_large_tasks`` tasks (10,000 and 100,000 in a
full run), written straight into the database in the service's stored shape (the API would
take minutes). Against the tasks service directly, with wrk: list (default sort), list with a
filter and another sort, the next page by cursor, and get one, at ``connections``; list and
get again at one connection; then stats on a cache miss (the user's cache version bumped
before each call, as the search invalidator does).
"""

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from pymongo import AsyncMongoClient
from redis.asyncio import Redis
from yarl import URL

from bench.client import Bench
from bench.stats import latency_summary, median_of_rounds
from bench.wrk import WrkRun, run_wrk
from services.tasks.app.documents import derived_fields
from services.tasks.app.main import COLLECTION
from shared.identity import IDENTITY_HEADER, Identity, sign_identity
from shared.redis_keys import cache_version

TASKS_PATH = "/api/v1/tasks"
FILL_BATCH = 1000
STATS_SAMPLES = 15
SINGLE_CONNECTION_SECONDS = 3.0
STATUSES = ("todo", "in_progress", "done")
PRIORITIES = ("low", "medium", "high")


def stored_task(owner_id: str, n: int, start: datetime) -> dict[str, Any]:
    """Task ``n`` as the service stores it (published: nothing left in its outbox)."""
    at = start + timedelta(seconds=n)
    fields = {
        "title": f"bench task {n}",
        "description": "a task filled straight into the database for the list benchmark",
        "status": STATUSES[n % 3],
        "priority": PRIORITIES[n // 3 % 3],
        "tags": ["bench", f"t{n % 10}"],
        "due_date": None if n % 5 == 0 else at + timedelta(days=n % 30 - 10),
    }
    return {
        "_id": str(uuid.uuid4()),
        "owner_id": owner_id,
        **fields,
        **derived_fields(fields),
        "created_at": at,
        "updated_at": at,
        "version": 1,
        "deleted": False,
        "pending_events": [],
        "outbox_pending": False,
    }


async def fill(bench: Bench, owner_id: str, count: int) -> str:
    """Write ``count`` tasks for ``owner_id``; returns the id of one in the middle."""
    start = datetime.now(UTC) - timedelta(days=400)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(bench.system.env["MONGODB_URL"])
    try:
        tasks = client.get_default_database()[COLLECTION]
        middle = ""
        for first in range(0, count, FILL_BATCH):
            batch = [
                stored_task(owner_id, n, start)
                for n in range(first, min(count, first + FILL_BATCH))
            ]
            await tasks.insert_many(batch, ordered=False)
            if first <= count // 2 < first + FILL_BATCH:
                middle = batch[count // 2 - first]["_id"]
        return middle
    finally:
        await client.close()


def signed(bench: Bench, user_id: str, path: str, query: str = "") -> str:
    """The gateway's identity header for a GET of ``path?query`` (the raw query, as sent)."""
    secret = bench.system.env["INTERNAL_SIGNING_SECRET"].encode()
    identity = Identity(user_id=user_id, via="jwt")
    return sign_identity(
        identity, secret=secret, method="GET", path=path, query=query.encode("latin-1")
    )


async def wrk(
    bench: Bench, user_id: str, target: str, connections: int, seconds: float
) -> dict[str, float]:
    path, _, query = target.partition("?")
    url = bench.url("tasks") + target
    run = WrkRun(url, IDENTITY_HEADER, signed(bench, user_id, path, query), connections, seconds)
    return await run_wrk(run)


async def next_page(bench: Bench, user_id: str, query: dict[str, str]) -> str:
    """The URL of the second page of ``query``, by the first page's cursor."""
    raw_query = URL(TASKS_PATH).extend_query(query).raw_query_string  # as aiohttp sends it
    headers = {IDENTITY_HEADER: signed(bench, user_id, TASKS_PATH, raw_query)}
    reply = await bench.http.get(bench.url("tasks") + TASKS_PATH, params=query, headers=headers)
    reply.raise_for_status()
    cursor = reply.json()["next_cursor"]
    return f"{TASKS_PATH}?{urlencode({**query, 'cursor': cursor})}"


async def stats_misses(bench: Bench, user_id: str) -> dict[str, float]:
    redis = Redis.from_url(bench.system.env["REDIS_URL"])
    path = f"{TASKS_PATH}/stats"
    durations = []
    try:
        for _ in range(STATS_SAMPLES):
            await redis.incr(cache_version(user_id))  # a fresh key: the next call must count
            headers = {IDENTITY_HEADER: signed(bench, user_id, path)}
            begun = time.perf_counter()
            reply = await bench.http.get(bench.url("tasks") + path, headers=headers)
            durations.append(time.perf_counter() - begun)
            reply.raise_for_status()
    finally:
        await redis.aclose()
    return latency_summary(durations)


async def one_round(bench: Bench, users: dict[str, tuple[str, str]]) -> dict[str, float]:
    small, _ = users["small"]
    large, one_task = users["large"]
    seconds, connections = bench.sizes.wrk_seconds, bench.sizes.connections
    filtered = {"status": "todo", "sort": "priority", "limit": "20"}
    targets = {
        "list_10k": (small, f"{TASKS_PATH}?limit=20"),
        "list_100k": (large, f"{TASKS_PATH}?limit=20"),
        "list_filter_100k": (large, f"{TASKS_PATH}?{urlencode(filtered)}"),
        "list_cursor_100k": (large, await next_page(bench, large, {"limit": "20"})),
        "get_100k": (large, f"{TASKS_PATH}/{one_task}"),
    }
    figures: dict[str, float] = {}
    for name, (user_id, target) in targets.items():
        result = await wrk(bench, user_id, target, connections, seconds)
        figures |= {f"{name}_{key}": value for key, value in result.items()}
    for name in ("list_100k", "get_100k"):
        user_id, target = targets[name]
        result = await wrk(bench, user_id, target, 1, SINGLE_CONNECTION_SECONDS)
        figures |= {f"{name}_c1_{key}": value for key, value in result.items()}
    stats = await stats_misses(bench, large)
    figures |= {"stats_miss_100k_ms": stats["p50_ms"], "stats_miss_100k_p99_ms": stats["p99_ms"]}
    figures["list_vs_get_rps_ratio"] = figures["list_100k_rps"] / figures["get_100k_rps"]
    figures["list_vs_get_p50_ratio_c1"] = (
        figures["list_100k_c1_p50_ms"] / figures["get_100k_c1_p50_ms"]
    )
    return figures


async def run(bench: Bench) -> dict[str, object]:
    users: dict[str, tuple[str, str]] = {}
    fill_seconds: dict[str, float] = {}
    for name, count in (
        ("small", bench.sizes.list_small_tasks),
        ("large", bench.sizes.list_large_tasks),
    ):
        user_id = f"bench-list-{name}-{uuid.uuid4().hex[:8]}"
        begun = time.monotonic()
        users[name] = (user_id, await fill(bench, user_id, count))
        fill_seconds[name] = time.monotonic() - begun
    rounds = [await one_round(bench, users) for _ in range(bench.sizes.rounds)]
    sizes = {
        "list_small_tasks": bench.sizes.list_small_tasks,
        "list_large_tasks": bench.sizes.list_large_tasks,
    }
    return {
        **median_of_rounds(rounds),
        "raw": {"rounds": rounds, "fill_seconds": fill_seconds, **sizes},
    }
