"""What the numbers were measured on: machine, load, code version and time."""

import json
import os
import platform
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_mib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 0


def _git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    return result.stdout.strip()


# A fixed piece of work for ``cpu_yardstick_ms``: ~4,000 words of ~1,000 distinct ones.
_YARDSTICK_WORDS = " ".join(f"word{index * 7919 % 997}" for index in range(4000))


def cpu_yardstick_ms() -> float:
    """How long this process takes, right now, for a fixed ~1.6 ms of CPU work (split, count,
    sort, JSON round trip): on these shared VMs the CPU itself runs faster or slower for
    minutes at a time, which no latency yardstick of a trivial request shows."""
    begun = time.perf_counter()
    counts = Counter(_YARDSTICK_WORDS.split())
    json.loads(json.dumps(sorted(counts.items())))
    return (time.perf_counter() - begun) * 1000


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def describe() -> dict[str, object]:
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count() or 0,
        "memory_mib": _memory_mib(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_at_start": load_average(),
    }


def code_version() -> dict[str, object]:
    return {
        "git_commit": _git("rev-parse", "HEAD"),
        # Uncommitted changes in the services mean the figures belong to no single commit.
        "git_dirty": bool(_git("status", "--porcelain", "--", "services", "shared")),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
