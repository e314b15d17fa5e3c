"""Flag evaluation per gateway request (#23): what the canary pool decision costs.

In process, no network: the gateway's own ``PoolRouter`` over the repository's flag file with
``route.tasks.canary`` at a 10% split, each call for another user id (as requests are). Three
figures, median of rounds, in microseconds:

- ``flag_eval``: the decision itself (context + flagd fractional rule), what a request to a
  service with a canary pays (one without a canary pays nothing);
- ``pool_route``: the whole ``route()`` call, with the wrapper that records the answer;
- ``flag_eval_sdk``: the same flag through the OpenFeature client (hooks, context merging),
  the path OFREP uses, for comparison.

``python -m bench.flags_bench`` runs it alone and writes its keys into ``latest.json``.
"""

import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from prometheus_client import CollectorRegistry

from bench import report
from bench.stats import median_of_rounds, percentile
from deploy.local.services import REPO
from services.gateway.app.canary import Thresholds
from services.gateway.app.client import UpstreamClient
from services.gateway.app.pool_metrics import PoolMetrics
from services.gateway.app.pools import PoolRouter
from shared.flags import Flags, evaluation_context
from shared.identity import Identity

FLAG = "route.tasks.canary"
SAMPLES = 20_000
ROUNDS = 3
LATEST = REPO / "bench" / "results" / "latest.json"


def flag_file_at(percent: int, directory: Path) -> Path:
    """The repository's flag file with the tasks canary at ``percent``."""
    definition = json.loads((REPO / "deploy" / "flags" / "flags.json").read_text())
    split = [["canary", percent], ["stable", 100 - percent]]
    definition["flags"][FLAG]["targeting"] = {"fractional": split}
    path = directory / "flags.json"
    path.write_text(json.dumps(definition))
    return path


def timed_us(call: Callable[[int], object], samples: int) -> dict[str, float]:
    durations = []
    for i in range(samples):
        started = time.perf_counter()
        call(i)
        durations.append((time.perf_counter() - started) * 1e6)
    return {"p50_us": percentile(durations, 50), "p99_us": percentile(durations, 99)}


def one_round(flags: Flags, router: PoolRouter, samples: int) -> dict[str, float]:
    state = router.canaries["tasks"]
    identities = [Identity(user_id=f"user-{i:06d}", via="jwt") for i in range(samples)]

    async def send(message: Any) -> None:
        return None

    figures = {
        "flag_eval": timed_us(lambda i: router.wants_canary(state, identities[i]), samples),
        "pool_route": timed_us(lambda i: router.route("tasks", identities[i], send), samples),
        "flag_eval_sdk": timed_us(
            lambda i: flags.client.get_boolean_details(
                FLAG, False, evaluation_context(user_id=identities[i].user_id)
            ),
            samples,
        ),
    }
    return {
        f"{name}_{stat}": value for name, stats in figures.items() for stat, value in stats.items()
    }


def measure(samples: int = SAMPLES, rounds: int = ROUNDS) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        flags = Flags(str(flag_file_at(10, Path(directory))), poll_ms=1000, domain="bench-flags")
        flags.start()
        try:
            router = PoolRouter(
                stable=cast(UpstreamClient, object()),
                canary=cast(UpstreamClient, object()),
                services=["tasks"],
                flags=flags,
                metrics=PoolMetrics(CollectorRegistry()),
                limits=Thresholds(50, 0.05, 1.5, 0.05),
                window_seconds=60,
            )
            per_round = [one_round(flags, router, samples) for _ in range(rounds)]
        finally:
            flags.close()
    return {**median_of_rounds(per_round), "raw": {"rounds": per_round, "samples": samples}}


async def run(_: object) -> dict[str, Any]:
    """As one of ``make bench``'s benchmarks (it needs nothing from the running system)."""
    return measure()


def main() -> int:
    figures = measure()
    latest: dict[str, Any] = json.loads(LATEST.read_text()) if LATEST.exists() else {}
    latest.setdefault("raw", {})["flags"] = {"figures": figures.pop("raw")}
    latest.update(figures)
    report.write_json(latest, LATEST)
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
