"""Read your own writes (issue 25): a write's consistency token, then one search with it.

``read_your_writes_*``: from a create's acknowledgement through the gateway until the search
that presents its token answers (through the gateway), at a steady 20 writes/s; every answer
must hold the task. ``search_token_added_ms``: what an already-applied token adds to a search
in the service, as the difference of the medians of the service's own ``took_ms`` for pairs
of uncached queries, one with a token and one without, alternating.
"""

import secrets
import time

from bench.client import Bench
from bench.http_client import HTTP_ERRORS, Reply
from bench.load import paced
from bench.stats import median_of_rounds, percentile
from shared.consistency import CONSISTENCY_HEADER

WRITES_PER_S = 20
SEARCH = "/api/v1/search"


async def _create(bench: Bench, headers: dict[str, str], word: str) -> tuple[str, str]:
    reply = await bench.http.post(
        f"{bench.gateway}/api/v1/tasks", json={"title": f"ryw {word}"}, headers=headers
    )
    reply.raise_for_status()
    return reply.json()["id"], reply.headers[CONSISTENCY_HEADER]


def _holds(reply: Reply, task_id: str) -> bool:
    return reply.status == 200 and any(
        item["task"]["id"] == task_id for item in reply.json()["items"]
    )


async def _read_your_writes(bench: Bench) -> dict[str, float]:
    headers = await bench.bearer()
    latencies: list[float] = []
    missed: list[str] = []
    failed: list[int] = []

    async def write_then_search(number: int) -> None:
        word = f"zq{secrets.token_hex(6)}"
        try:
            task_id, token = await _create(bench, headers, word)
        except HTTP_ERRORS:
            # Counted, not fatal: an overloaded system's 502/503s are a finding too.
            failed.append(number)
            return
        acked = time.perf_counter()
        try:
            reply = await bench.http.get(
                f"{bench.gateway}{SEARCH}",
                params={"q": word},
                headers={**headers, CONSISTENCY_HEADER: token},
            )
        except HTTP_ERRORS:
            missed.append(task_id)
            return
        latencies.append(time.perf_counter() - acked)
        if not _holds(reply, task_id) or "X-Search-Stale" in reply.headers:
            missed.append(task_id)

    await paced(write_then_search, rate=WRITES_PER_S, seconds=bench.sizes.e2s_seconds)
    return {
        "read_your_writes_p50_ms": percentile(latencies, 50) * 1000,
        "read_your_writes_p99_ms": percentile(latencies, 99) * 1000,
        "read_your_writes_missed": float(len(missed)),
        "read_your_writes_write_errors": float(len(failed)),
    }


async def _took_ms(bench: Bench, q: str, token: str | None) -> float:
    params = {"q": q}
    headers = bench.identity("GET", SEARCH, params) | ({CONSISTENCY_HEADER: token} if token else {})
    reply = await bench.http.get(bench.url("search") + SEARCH, params=params, headers=headers)
    reply.raise_for_status()
    took: float = reply.json()["took_ms"]
    return took


async def _applied_token_cost(bench: Bench) -> dict[str, float]:
    """Each word is searched once (so never from the cache), half with an applied token."""
    headers = await bench.bearer()
    pairs = max(10, bench.sizes.search_queries // 4)
    written = [await _create(bench, headers, f"zq{secrets.token_hex(6)}") for _ in range(2)]
    _, token = written[-1]
    await bench.http.get(
        f"{bench.gateway}{SEARCH}",
        params={"q": "warm"},
        headers={**headers, CONSISTENCY_HEADER: token},
    )
    with_token, without = [], []
    for number in range(pairs):
        with_token.append(await _took_ms(bench, f"ryw{number}a", token))
        without.append(await _took_ms(bench, f"ryw{number}b", None))
    return {
        "search_token_p50_ms": percentile(with_token, 50),
        "search_no_token_p50_ms": percentile(without, 50),
        "search_token_added_ms": percentile(with_token, 50) - percentile(without, 50),
    }


async def run(bench: Bench) -> dict[str, object]:
    rounds = [
        await _read_your_writes(bench) | await _applied_token_cost(bench)
        for _ in range(bench.sizes.rounds)
    ]
    return {**median_of_rounds(rounds), "raw": {"rounds": rounds}}
