"""Issue 4: authenticated ``GET /api/v1/tasks/{id}`` through the gateway, direct and via nginx."""

from collections.abc import Awaitable, Callable

from bench.client import Bench, create_task
from bench.nginx import Nginx
from bench.stats import median_of_rounds
from bench.wrk import WrkRun, run_wrk
from deploy.local.system import free_port
from shared.identity import IDENTITY_HEADER

# A pool of connections per wrk run big enough to saturate two cores; the half-load runs use
# fewer, each pausing between requests so that the rate, not the concurrency, is fixed.
HALF_LOAD_CONNECTIONS = 16
# Where to send the requests and how to authenticate them (called just before each run:
# signed identities are valid for 60 s, access tokens for 15 minutes).
Target = tuple[str, Callable[[], Awaitable[tuple[str, str]]]]


def _prefixed(name: str, figures: dict[str, float]) -> dict[str, float]:
    return {f"{name}_{key}": value for key, value in figures.items()}


def _targets(bench: Bench, nginx: Nginx, path: str) -> dict[str, Target]:
    async def signed() -> tuple[str, str]:
        return IDENTITY_HEADER, bench.identity("GET", path)[IDENTITY_HEADER]

    async def bearer() -> tuple[str, str]:
        return "Authorization", f"Bearer {await bench.token()}"

    return {
        "gateway": (bench.gateway + path, bearer),
        "direct": (bench.url("tasks") + path, signed),
        "nginx": (nginx.url + path, signed),
    }


def _checked(name: str, figures: dict[str, float]) -> dict[str, float]:
    """Refuse a run with errors: fast 401s or 429s would pass for throughput."""
    if figures["errors"] > 0.01 * figures["requests"]:
        raise RuntimeError(f"{name}: {figures['errors']:.0f} of {figures['requests']:.0f} failed")
    return figures


async def _interleaved(
    bench: Bench, targets: dict[str, Target], connections: int, delay_ms: float = 0.0
) -> list[dict[str, float]]:
    """Each round runs every target once; the order rotates so no target always goes first."""
    names = list(targets)
    results = []
    for round_number in range(bench.sizes.rounds):
        figures: dict[str, float] = {}
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            url, header = targets[name]
            header_name, value = await header()
            run = WrkRun(url, header_name, value, connections, bench.sizes.wrk_seconds, delay_ms)
            figures |= _prefixed(name, _checked(name, await run_wrk(run)))
        results.append(figures)
    return results


async def run(bench: Bench) -> dict[str, object]:
    headers = await bench.bearer()
    task_id = await create_task(bench.http, bench.gateway, headers, title="wrk target")
    path = f"/api/v1/tasks/{task_id}"
    tasks_port = bench.system.one("tasks").port
    nginx = Nginx(
        root=bench.work_dir / "nginx", port=free_port(), upstream=f"127.0.0.1:{tasks_port}"
    )
    nginx.start()
    try:
        targets = _targets(bench, nginx, path)
        peak_rounds = await _interleaved(bench, targets, bench.sizes.connections)
        peak = median_of_rounds(peak_rounds)
        half_rps = peak["gateway_rps"] / 2
        delay_ms = HALF_LOAD_CONNECTIONS * 1000 / half_rps
        half_targets = {name: targets[name] for name in ("gateway", "direct")}
        half_rounds = await _interleaved(bench, half_targets, HALF_LOAD_CONNECTIONS, delay_ms)
    finally:
        nginx.stop()
    return _summary(peak, peak_rounds, median_of_rounds(half_rounds), half_rounds, half_rps)


def _summary(
    peak: dict[str, float],
    peak_rounds: list[dict[str, float]],
    half: dict[str, float],
    half_rounds: list[dict[str, float]],
    half_rps: float,
) -> dict[str, object]:
    return {
        "gateway_vs_direct_rps_ratio": peak["gateway_rps"] / peak["direct_rps"],
        "gateway_vs_nginx_rps_ratio": peak["gateway_rps"] / peak["nginx_rps"],
        "gateway_added_latency_p50_ms": half["gateway_p50_ms"] - half["direct_p50_ms"],
        "gateway_added_latency_p99_ms": half["gateway_p99_ms"] - half["direct_p99_ms"],
        "gateway_half_load_target_rps": half_rps,
        **{f"peak_{key}": value for key, value in peak.items()},
        **{f"half_load_{key}": value for key, value in half.items()},
        "raw": {"peak_rounds": peak_rounds, "half_load_rounds": half_rounds},
    }
