"""Issue 5: creates/s through the API and ``GET /tasks/{id}`` RPS straight to the service
while events are flowing (the relay's publish lag is measured in ``stream_bench``)."""

import asyncio

from bench.client import Bench, create_task, post_task
from bench.load import closed_loop, paced
from bench.stats import latency_summary, median_of_rounds
from bench.wrk import WrkRun, run_wrk
from shared.identity import IDENTITY_HEADER

CREATE_WORKERS = 16
# Writes in the background of the read benchmark, so the relay and the consumer are busy.
BACKGROUND_WRITES_PER_S = 50


async def _creates(bench: Bench, headers: dict[str, str]) -> dict[str, float]:
    failed: list[int] = []

    async def create() -> None:
        if not await post_task(bench, headers, title="bench create"):
            failed.append(1)

    durations, rate = await closed_loop(
        create, workers=CREATE_WORKERS, seconds=bench.sizes.load_seconds
    )
    latency = latency_summary(durations)
    return {
        # Only acknowledged creates count.
        "task_creates_per_s": rate * (len(durations) - len(failed)) / len(durations),
        "task_create_errors": float(len(failed)),
        "task_create_p50_ms": latency["p50_ms"],
        "task_create_p99_ms": latency["p99_ms"],
    }


async def _reads_with_events(
    bench: Bench, headers: dict[str, str], task_id: str
) -> dict[str, float]:
    path = f"/api/v1/tasks/{task_id}"
    url = bench.url("tasks") + path
    signed = bench.identity("GET", path)[IDENTITY_HEADER]
    run = WrkRun(url, IDENTITY_HEADER, signed, bench.sizes.connections, bench.sizes.wrk_seconds)

    async def background_write(number: int) -> bool:
        return await post_task(bench, headers, title=f"background {number}")

    writes = paced(background_write, rate=BACKGROUND_WRITES_PER_S, seconds=bench.sizes.wrk_seconds)
    figures, written = await asyncio.gather(run_wrk(run), writes)
    return {
        **{f"tasks_get_direct_with_events_{key}": value for key, value in figures.items()},
        "tasks_background_write_errors": float(written.count(False)),
    }


async def run(bench: Bench) -> dict[str, object]:
    # Created before any load: later, the previous round's queue may still be draining.
    headers = await bench.bearer()
    task_id = await create_task(bench.http, bench.gateway, headers, title="read target")
    rounds = []
    for _ in range(bench.sizes.rounds):
        headers = await bench.bearer()
        creates = await _creates(bench, headers)
        rounds.append(creates | await _reads_with_events(bench, headers, task_id))
    return {**median_of_rounds(rounds), "raw": {"rounds": rounds}}
