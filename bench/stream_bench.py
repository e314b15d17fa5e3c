"""Issues 5 and 6 under a steady stream of 100 task writes/s through the API.

Measures the relay's publish lag (CloudEvent time, stamped at the write, to the Kafka record
timestamp) and event-to-searchable: from each write's acknowledgement until a search for the
unique word in its title finds it, and from the search service's own histogram.
"""

import asyncio
import contextlib
import secrets
import time
from dataclasses import dataclass

from bench.client import Bench, create_task
from bench.http_client import HTTP_ERRORS
from bench.kafka import TopicWatcher
from bench.load import paced
from bench.scrape import Buckets, histogram_buckets, scrape
from bench.stats import histogram_quantile, median_of_rounds, percentile, subtract_buckets

WRITES_PER_S = 100
# Polling search after every write would load it more than the writes do; one in ten is
# plenty of samples and keeps the poller's load small.
POLL_EVERY = 10
POLL_INTERVAL_S = 0.005
# Long enough to measure a system that has fallen behind, rather than to report nothing.
GIVE_UP_AFTER_S = 30.0
SETTLE_S = 1.0


async def _found(bench: Bench, word: str, task_id: str) -> bool:
    path = "/api/v1/search"
    response = await bench.http.get(
        bench.url("search") + path,
        params={"q": word, "limit": 5},
        headers=bench.identity("GET", path, {"q": word, "limit": 5}),
    )
    response.raise_for_status()
    return any(item["task"]["id"] == task_id for item in response.json()["items"])


@dataclass
class Visibility:
    """When search first found a write, and when it last did not (seconds from the ack): the
    write became searchable between the two, so their gap is the polling's own blur."""

    found: float
    last_miss: float


async def _searchable_after(
    bench: Bench, word: str, task_id: str, acked: float
) -> Visibility | None:
    """How long after the write's acknowledgement search found it; None if it never does."""
    last_miss = 0.0
    while time.time() - acked < GIVE_UP_AFTER_S:
        with contextlib.suppress(*HTTP_ERRORS):  # A failed poll is just one more poll.
            if await _found(bench, word, task_id):
                return Visibility(found=time.time() - acked, last_miss=last_miss)
            last_miss = time.time() - acked
        await asyncio.sleep(POLL_INTERVAL_S)
    return None


# The search service's histograms: from the CloudEvent time, and from the Kafka record
# timestamp (its own share), each to the commit that makes the change visible.
METRICS = {
    "event_to_searchable_metric": "searchable",
    "kafka_to_visible_metric": "kafka_to_visible",
    "search_commit_metric": "commit_duration",
}


async def _metric_buckets(bench: Bench) -> dict[str, Buckets | None]:
    samples = await scrape(bench.http, bench.url("search"))
    return {figure: histogram_buckets(samples, fragment) for figure, fragment in METRICS.items()}


async def _stream(bench: Bench, watcher: TopicWatcher) -> dict[str, float]:
    headers = await bench.bearer()
    searchable: list[Visibility | None] = []
    acked: dict[str, float] = {}
    failed: list[int] = []

    async def write(number: int) -> None:
        word = f"zq{secrets.token_hex(6)}"
        try:
            task_id = await create_task(bench.http, bench.gateway, headers, title=f"stream {word}")
        except HTTP_ERRORS:
            # Counted, not fatal: an overloaded system's 503/504s are a finding too.
            failed.append(number)
            return
        acked[task_id] = time.time()
        if number % POLL_EVERY == 0:
            searchable.append(await _searchable_after(bench, word, task_id, acked[task_id]))

    before = await _metric_buckets(bench)
    await paced(write, rate=WRITES_PER_S, seconds=bench.sizes.e2s_seconds)
    await asyncio.sleep(SETTLE_S)
    after = await _metric_buckets(bench)
    return (
        _searchable_figures(searchable)
        | _metric_figures(before, after)
        | _relay_figures(watcher, acked)
        | {"stream_write_errors": float(len(failed))}
    )


def _searchable_figures(samples: list[Visibility | None]) -> dict[str, float]:
    found = [sample for sample in samples if sample is not None]
    counts = {
        "event_to_searchable_samples": float(len(found)),
        "event_to_searchable_not_found": float(len(samples) - len(found)),
    }
    if not found:
        return counts
    times = [sample.found for sample in found]
    misses = [sample.last_miss for sample in found]
    return {
        "event_to_searchable_p50_ms": percentile(times, 50) * 1000,
        "event_to_searchable_p99_ms": percentile(times, 99) * 1000,
        "event_to_searchable_last_miss_p50_ms": percentile(misses, 50) * 1000,
        "event_to_searchable_last_miss_p99_ms": percentile(misses, 99) * 1000,
        **counts,
    }


def _metric_figures(
    before: dict[str, Buckets | None], after: dict[str, Buckets | None]
) -> dict[str, float]:
    figures = {}
    for figure, buckets in after.items():
        if buckets is None:
            continue
        observed = subtract_buckets(buckets, before[figure] or [])
        figures[f"{figure}_p50_ms"] = histogram_quantile(observed, 0.5) * 1000
        figures[f"{figure}_p99_ms"] = histogram_quantile(observed, 0.99) * 1000
    return figures


def _relay_figures(watcher: TopicWatcher, acked: dict[str, float]) -> dict[str, float]:
    """Publish lag by the event's own clock, and from the client's acknowledgement until a
    consumer (this one) receives the event."""
    seen = {task: watcher.arrivals[(task, 1)] for task in acked if (task, 1) in watcher.arrivals}
    publish = [arrival.record_time - arrival.event_time for arrival in seen.values()]
    consumed = [arrival.seen_at - acked[task] for task, arrival in seen.items()]
    if not seen:
        return {"relay_events_missing": float(len(acked))}
    return {
        "relay_publish_lag_p50_ms": percentile(publish, 50) * 1000,
        "relay_publish_lag_p99_ms": percentile(publish, 99) * 1000,
        "write_ack_to_consumed_p50_ms": percentile(consumed, 50) * 1000,
        "write_ack_to_consumed_p99_ms": percentile(consumed, 99) * 1000,
        "relay_events_missing": float(len(acked) - len(seen)),
    }


async def run(bench: Bench) -> dict[str, object]:
    watcher = TopicWatcher(
        bench.system.env["KAFKA_BOOTSTRAP_SERVERS"], bench.system.env["KAFKA_TASK_EVENTS_TOPIC"]
    )
    await watcher.start()
    try:
        rounds = [await _stream(bench, watcher) for _ in range(bench.sizes.rounds)]
    finally:
        await watcher.stop()
    return {**median_of_rounds(rounds), "raw": {"rounds": rounds}}
