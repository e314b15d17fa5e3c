"""Running wrk (Debian's) with a Lua script that adds one header and reports as JSON."""

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

import orjson

RESULT_MARKER = "BENCH_RESULT "
LUA_SCRIPT = Path(__file__).with_name("wrk_header.lua")


@dataclass(frozen=True)
class WrkRun:
    url: str
    header_name: str
    header_value: str
    connections: int
    seconds: float
    # A pause after each response: with it, ``connections`` over (pause + latency) fixes the rate.
    delay_ms: float = 0.0


async def run_wrk(run: WrkRun) -> dict[str, float]:
    """One wrk run; RPS, p50/p99 in ms and the error count. Raises if wrk fails."""
    env = {
        **os.environ,
        "BENCH_HEADER_NAME": run.header_name,
        "BENCH_HEADER_VALUE": run.header_value,
        "BENCH_DELAY_MS": str(run.delay_ms),
    }
    threads = min(2, run.connections)
    process = await asyncio.create_subprocess_exec(
        "wrk",
        f"-t{threads}",
        f"-c{run.connections}",
        f"-d{run.seconds:g}s",
        "--timeout",
        "5s",
        "-s",
        str(LUA_SCRIPT),
        run.url,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed: {stderr.decode(errors='replace')[-500:]}")
    return parse_result(stdout.decode(errors="replace"))


def parse_result(output: str) -> dict[str, float]:
    """The figures from the line the Lua ``done`` hook prints."""
    line = next(ln for ln in output.splitlines() if ln.startswith(RESULT_MARKER))
    raw = orjson.loads(line.removeprefix(RESULT_MARKER))
    seconds = raw["duration_us"] / 1e6
    errors = sum(raw[key] for key in ("connect", "read", "write", "status", "timeout"))
    return {
        "rps": raw["requests"] / seconds,
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "requests": float(raw["requests"]),
        "errors": float(errors),
    }
