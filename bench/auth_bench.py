"""Issue 3: login latency and throughput at the configured argon2 parameters; refreshes/s."""

import asyncio
import os
import time
from collections.abc import Mapping

from bench.client import PASSWORD, Bench
from bench.load import closed_loop
from bench.stats import latency_summary, median_of_rounds
from services.auth.app.config import Settings as AuthSettings

# Enough concurrent logins to keep both cores hashing; latency is measured one at a time.
THROUGHPUT_WORKERS = 4


async def _login(bench: Bench) -> None:
    body = {"email": bench.user.email, "password": PASSWORD}
    response = await bench.http.post(f"{bench.gateway}/api/v1/auth/login", json=body)
    response.raise_for_status()


async def _token_grant(bench: Bench, form: dict[str, str]) -> str:
    response = await bench.http.post(f"{bench.gateway}/api/v1/auth/token", data=form)
    response.raise_for_status()
    refresh_token: str = response.json()["refresh_token"]
    return refresh_token


async def _refresh_chain(bench: Bench, deadline: float) -> int:
    """One client rotating its own session's refresh token until ``deadline``."""
    form = {"grant_type": "password", "username": bench.user.email, "password": PASSWORD}
    token = await _token_grant(bench, form)
    count = 0
    while time.perf_counter() < deadline:
        token = await _token_grant(bench, {"grant_type": "refresh_token", "refresh_token": token})
        count += 1
    return count


async def _refreshes_per_s(bench: Bench) -> float:
    started = time.perf_counter()
    deadline = started + bench.sizes.load_seconds
    chains = [_refresh_chain(bench, deadline) for _ in range(THROUGHPUT_WORKERS)]
    counts = await asyncio.gather(*chains)
    # The password grant that opens each chain is included in the elapsed time: a slight
    # underestimate rather than a rate over a window the chains did not all share.
    return sum(counts) / (time.perf_counter() - started)


async def _one_round(bench: Bench) -> dict[str, float]:
    async def login() -> None:
        await _login(bench)

    seconds = bench.sizes.load_seconds
    durations, _ = await closed_loop(login, workers=1, seconds=seconds)
    loaded, logins_per_s = await closed_loop(login, workers=THROUGHPUT_WORKERS, seconds=seconds)
    sequential = latency_summary(durations)
    under_load = latency_summary(loaded)
    return {
        "login_p50_ms": sequential["p50_ms"],
        "login_p99_ms": sequential["p99_ms"],
        "logins_per_s": logins_per_s,
        "login_loaded_p50_ms": under_load["p50_ms"],
        "login_loaded_p99_ms": under_load["p99_ms"],
        "refreshes_per_s": await _refreshes_per_s(bench),
    }


def argon2_parameters(env: Mapping[str, str]) -> dict[str, float]:
    """The hashing cost the login figures belong to: the auth defaults unless overridden."""
    fields = AuthSettings.model_fields
    names = ("argon2_memory_kib", "argon2_time_cost", "argon2_parallelism")
    return {name: float(env.get(f"AUTH_{name.upper()}", fields[name].default)) for name in names}


async def run(bench: Bench) -> dict[str, object]:
    rounds = [await _one_round(bench) for _ in range(bench.sizes.rounds)]
    parameters = argon2_parameters({**os.environ, **bench.system.env})
    return {**median_of_rounds(rounds), **parameters, "raw": {"rounds": rounds}}
